import os
def application(environ, start_response):
    body = ('jailed=%s root=%s' % (os.path.exists('/JAIL_MARKER'), sorted(os.listdir('/')))).encode()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
