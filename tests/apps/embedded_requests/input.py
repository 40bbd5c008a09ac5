
def pieces_of(f, mode):
    if mode == 'read':
        return [f.read()], None
    if mode.startswith('read-'):
        n = int(mode[5:])
        return list(iter(lambda: f.read(n), b'')), n
    if mode == 'readline':
        return list(iter(f.readline, b'')), None
    if mode.startswith('readline-'):
        n = int(mode[9:])
        return list(iter(lambda: f.readline(n), b'')), n
    if mode == 'readlines':
        return f.readlines(), None
    if mode == 'iter':
        return list(f), None
    raise ValueError('unknown mode %r' % mode)

def application(environ, start_response):
    mode = environ['QUERY_STRING']
    pieces, limit = pieces_of(environ['wsgi.input'], mode)
    lines = mode.startswith('readline') or mode in ('readlines', 'iter')
    bad = 0
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        if not isinstance(piece, bytes):
            bad += 1
        elif limit is not None and (len(piece) > limit or (not last and not lines and len(piece) != limit)):
            bad += 1
        elif lines and limit is None and b'\n' in piece[:-1]:
            bad += 1
        elif lines and limit is None and not last and not piece.endswith(b'\n'):
            bad += 1
    body = b''.join(p for p in pieces if isinstance(p, bytes))
    after = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length', str(len(body))),
                              ('X-Pieces', str(len(pieces))),
                              ('X-Bad-Pieces', str(bad)),
                              ('X-After-EOF', repr(after))])
    return [body]
