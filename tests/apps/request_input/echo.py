
import os

STATE = '{state}'

def read_all(f, mode):
    if mode == 'read':
        return [f.read()]
    if mode == 'read-none':
        return [f.read(None)]
    if mode == 'read-minus-one':
        return [f.read(-1)]
    if mode.startswith('read-'):
        n = int(mode[5:])
        return list(iter(lambda: f.read(n), b''))
    if mode == 'readline':
        return list(iter(f.readline, b''))
    if mode.startswith('readline-'):
        n = int(mode[9:])
        return list(iter(lambda: f.readline(n), b''))
    if mode == 'readlines':
        return f.readlines()
    if mode.startswith('readlines-'):
        hint = int(mode[10:])
        pieces = []
        while True:
            lines = f.readlines(hint)
            if not lines:
                return pieces
            pieces.append(b''.join(lines))
            pieces.append(len(lines))
    if mode == 'iter':
        return list(f)
    raise ValueError(mode)

def application(environ, start_response):
    q = environ.get('QUERY_STRING', '')
    mode, _, marker = q.partition('&')
    try:
        pieces = read_all(environ['wsgi.input'], mode)
        error = None
    except Exception as e:
        pieces, error = [], e
    if marker:
        with open(os.path.join(STATE, marker), 'w') as f:
            f.write(repr(error))
    data = b''.join(p for p in pieces if isinstance(p, bytes))
    report = [
        'pieces=%r' % [len(p) if isinstance(p, bytes) else ('lines', p) for p in pieces],
        'error=%r' % (error,),
        'CONTENT_LENGTH=%r' % environ.get('CONTENT_LENGTH'),
        'HTTP_TRANSFER_ENCODING=%r' % environ.get('HTTP_TRANSFER_ENCODING'),
        'wsgi.input_terminated=%r' % environ.get('wsgi.input_terminated'),
        'after=%r' % environ['wsgi.input'].read(),
    ]
    body = ('\n'.join(report) + '\n').encode() + data
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length', str(len(body)))])
    return [body]
