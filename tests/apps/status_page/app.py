import os, time
def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/slow':
        time.sleep(float(environ.get('QUERY_STRING') or '2'))
    if path == '/hold':
        # Busy until the test says so (at most a minute).
        release = os.path.join(os.path.dirname(__file__), '..', 'out', 'release')
        deadline = time.time() + 60
        while not os.path.exists(release) and time.time() < deadline:
            time.sleep(0.05)
    if path == '/fail':
        start_response('503 Service Unavailable', [('Content-Type', 'text/plain')])
        return [b'no\n']
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%d\n' % os.getpid()]
