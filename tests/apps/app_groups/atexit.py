
import atexit, os, mod_wsgi, _xxsubinterpreters

NAME = mod_wsgi.application_group or 'global'
INTERP = int(_xxsubinterpreters.get_current())

def _at_exit():
    path = os.path.join('{state}', 'atexit-%s-%d' % (NAME, os.getpid()))
    with open(path, 'w') as f:
        f.write('interp=%d\n' % INTERP)

atexit.register(_at_exit)

def application(environ, start_response):
    body = ('%s %d %d' % (NAME, INTERP, os.getpid())).encode()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
