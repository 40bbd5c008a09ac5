
def application(environ, start_response):
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    write(b'written;')
    write(b'')
    write(b'again;')
    return [b'returned;', b'', b'end']
