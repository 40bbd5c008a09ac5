import os
PATH = os.path.join(os.path.dirname(__file__), 'big.bin')

def application(environ, start_response):
    f = open(PATH, 'rb')
    f.seek(int(environ.get('QUERY_STRING') or 0))
    headers = [('Content-Type', 'application/octet-stream')]
    if environ['PATH_INFO'] == '/limited':
        headers.append(('Content-Length', '1000'))
    start_response('200 OK', headers)
    return environ['wsgi.file_wrapper'](f, 65536)
