import os, time
def application(environ, start_response):
    time.sleep(float(environ.get('QUERY_STRING') or 0))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [str(os.getpid()).encode()]
