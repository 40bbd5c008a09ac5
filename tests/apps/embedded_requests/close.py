
import os

class Body:
    def __init__(self, marker):
        self.marker = marker
    def __iter__(self):
        yield b'part1;'
        yield b'part2'
    def close(self):
        with open(self.marker, 'w') as f:
            f.write('closed')

def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return Body(os.path.join('{state}', environ['QUERY_STRING']))
