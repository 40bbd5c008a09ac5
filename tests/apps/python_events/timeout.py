import os, time, mod_wsgi
def application(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/spin':
        n = 0
        while True:
            n += sum(range(100))
    if path == '/stubborn':
        while True:
            try:
                while True:
                    time.sleep(0.05)
            except mod_wsgi.RequestTimeout:
                pass
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%d\n' % os.getpid()]
