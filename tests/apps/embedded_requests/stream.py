
import os, time

def application(environ, start_response):
    go = os.path.join('{state}', environ['QUERY_STRING'])
    start_response('200 OK', [('Content-Type', 'text/plain')])
    def generate():
        yield b'first;'
        for _ in range(200):
            if os.path.exists(go):
                break
            time.sleep(0.05)
        else:
            yield b'timed-out;'
        yield b'second;'
        yield b'third'
    return generate()
