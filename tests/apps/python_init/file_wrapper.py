
import os, mod_wsgi
def application(environ, start_response):
    path = os.path.join(os.path.dirname(__file__), '..', 'data.bin')
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])
    return mod_wsgi.FileWrapper(open(path, 'rb'), 4096)
