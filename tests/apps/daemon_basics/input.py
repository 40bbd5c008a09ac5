import os

def application(environ, start_response):
    mode, _, show = environ['QUERY_STRING'].partition('&')
    f = environ['wsgi.input']
    if mode == 'readline':
        pieces = list(iter(f.readline, b''))
    elif mode == 'iter':
        pieces = list(f)
    elif mode == 'chunks':
        pieces = list(iter(lambda: f.read(1000), b''))
    else:
        pieces = [f.read()]
    body = repr(pieces).encode() if show == 'repr' else b''.join(pieces)
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length', str(len(body))),
                              ('X-Pieces', str(len(pieces))),
                              ('X-Pid', str(os.getpid()))])
    return [body]
