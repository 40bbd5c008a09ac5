# Fault suite: answers "<pid>\n" after sleeping the milliseconds given in the
# query string (none by default), so a load loop can tell which daemon process
# answered and keep requests in flight inside it.
import os
import time


def application(environ, start_response):
    ms = environ.get('QUERY_STRING') or '0'
    if ms != '0':
        time.sleep(int(ms) / 1000.0)
    body = b'%d\n' % os.getpid()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]
