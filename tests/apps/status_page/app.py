import os, time
def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/slow':
        time.sleep(float(environ.get('QUERY_STRING') or '2'))
    if path == '/fail':
        start_response('503 Service Unavailable', [('Content-Type', 'text/plain')])
        return [b'no\n']
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%d\n' % os.getpid()]
