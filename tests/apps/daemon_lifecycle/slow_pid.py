import os, time

def application(environ, start_response):
    ms = environ.get('QUERY_STRING') or '0'
    time.sleep(int(ms) / 1000.0)
    body = str(os.getpid()).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
