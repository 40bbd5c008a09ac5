
import io, os

STATE = '{state}'
DATA = '{data}'

class Recorder:
    """A file-like object that records its read() calls."""
    def __init__(self, f, name):
        self.f, self.name, self.reads = f, name, []
    def fileno(self):
        return self.f.fileno()
    def tell(self):
        return self.f.tell()
    def read(self, n=-1):
        self.reads.append(n)
        return self.f.read(n)
    def close(self):
        with open(os.path.join(STATE, self.name), 'w') as m:
            m.write('reads=%r' % (self.reads,))
        self.f.close()

def application(environ, start_response):
    q = environ.get('QUERY_STRING', '')
    case, _, name = q.partition('&')
    wrapper = environ['wsgi.file_wrapper']
    headers = [('Content-Type', 'application/octet-stream')]
    if case == 'file':
        start_response('200 OK', headers)
        return wrapper(Recorder(open(DATA, 'rb'), name))
    if case == 'offset':
        f = open(DATA, 'rb')
        f.seek(1000)
        start_response('200 OK', headers)
        return wrapper(Recorder(f, name))
    if case == 'read_offset':
        # The Python-level position (after a buffered read) is what counts.
        f = open(DATA, 'rb')
        f.read(10)
        start_response('200 OK', headers)
        return wrapper(Recorder(f, name))
    if case == 'app_length':
        f = open(DATA, 'rb')
        f.seek(10)
        start_response('200 OK', headers + [('Content-Length', '50')])
        return wrapper(Recorder(f, name))
    if case == 'bytesio':
        with open(DATA, 'rb') as f:
            data = f.read()
        start_response('200 OK', headers)
        return wrapper(Recorder(io.BytesIO(data), name), 4096)
    if case == 'bytesio_default':
        with open(DATA, 'rb') as f:
            data = f.read()
        start_response('200 OK', headers)
        return wrapper(Recorder(io.BytesIO(data), name))
    if case == 'after_write':
        write = start_response('200 OK', headers)
        write(b'written first;')
        return wrapper(Recorder(open(DATA, 'rb'), name), 65536)
    if case == 'subclass':
        class Mine(wrapper):
            pass
        start_response('200 OK', headers)
        return Mine(Recorder(open(DATA, 'rb'), name))
    if case == 'same_type':
        import mod_wsgi
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [repr((wrapper is mod_wsgi.FileWrapper, wrapper.__name__, wrapper.__module__)).encode()]
    if case == 'empty':
        f = open(DATA, 'rb')
        f.seek(0, 2)
        start_response('200 OK', headers)
        return wrapper(Recorder(f, name))
    start_response('404 Not Found', [('Content-Type', 'text/plain')])
    return [b'unknown case']
