
import os, time, mod_wsgi, _xxsubinterpreters
count = 0
def application(environ, start_response):
    global count
    count += 1
    time.sleep(0.001)
    total = sum(i * i for i in range(200))
    body = ('group=%s\ninterp=%d\npid=%d\ntotal=%d\n' % (
        mod_wsgi.application_group, int(_xxsubinterpreters.get_current()), os.getpid(), total)).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
