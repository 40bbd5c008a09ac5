def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'first chunk\n'
    raise RuntimeError('fails mid-stream')
