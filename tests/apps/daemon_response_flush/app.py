import time

# /trickle: many small pieces with tiny gaps, as a streaming application
# writes them: TRICKLE_PIECES * TRICKLE_SIZE bytes in all.
TRICKLE_PIECES = 64
TRICKLE_SIZE = 2048


def pauses():
    yield b'a'
    time.sleep(0.05)
    yield b'b'
    time.sleep(1)
    yield b'c'


def trickle():
    piece = b'x' * TRICKLE_SIZE
    for _ in range(TRICKLE_PIECES):
        yield piece
        time.sleep(0.002)


def application(environ, start_response):
    if environ['PATH_INFO'] == '/pauses':
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '3')])
        return pauses()
    length = TRICKLE_PIECES * TRICKLE_SIZE
    start_response('200 OK', [('Content-Type', 'application/octet-stream'), ('Content-Length', str(length))])
    return trickle()
