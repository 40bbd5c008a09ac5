import hashlib

def application(environ, start_response):
    f = environ['wsgi.input']
    size = int(environ['QUERY_STRING'])
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])
    def body():
        digest, total = hashlib.sha256(), 0
        while True:
            piece = f.read(size)
            if not piece:
                break
            digest.update(piece)
            total += len(piece)
            # Three times over: large writes travel through the window.
            yield piece * 3
        yield b'|%d|%s' % (total, digest.hexdigest().encode())
    return body()
