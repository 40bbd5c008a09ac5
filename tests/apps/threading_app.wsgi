# What real applications do at import (Flask and most libraries import
# threading; some start threads or register exit functions). MODE is
# replaced by the test: 'import', 'thread' (a non-daemon thread that never
# ends by itself) or 'atexit' (writes OUT/atexit-<pid> at exit).
import atexit
import os
import threading
import time

MODE = '@MODE@'
OUT = '@OUT@'

if MODE == 'thread':
    _stop = threading.Event()
    threading.Thread(target=lambda: _stop.wait(), name='background', daemon=False).start()

if MODE == 'atexit':
    def _at_exit():
        with open(os.path.join(OUT, 'atexit-%d' % os.getpid()), 'w') as f:
            f.write(MODE)
    atexit.register(_at_exit)

# A slow import, as a framework's is: concurrent first requests overlap it.
time.sleep(float('@IMPORT_SECONDS@'))
threading.current_thread()


def application(environ, start_response):
    threading.local()
    body = b'%d\n' % os.getpid()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]
