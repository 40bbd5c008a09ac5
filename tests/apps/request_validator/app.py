
import sys, warnings
from wsgiref.validate import validator, WSGIWarning

# Every warning is shown (and so logged through sys.stderr), never folded.
warnings.simplefilter('always', WSGIWarning)

def raw(environ, start_response):
    q = environ.get('QUERY_STRING', '')
    text = [('Content-Type', 'text/plain')]
    inp = environ['wsgi.input']
    if q == 'read':
        chunks = list(iter(lambda: inp.read(7), b''))
        body = b''.join(chunks)
    elif q == 'readline':
        body = b''.join(iter(inp.readline, b''))
    elif q == 'readline_sized':
        body = b''.join(iter(lambda: inp.readline(5), b''))
    elif q == 'readlines':
        body = b''.join(inp.readlines())
    elif q == 'readlines_hint':
        body = b''.join(inp.readlines(8))
        body += b''.join(inp.readlines())
    elif q == 'iter':
        body = b''.join(inp)
    else:
        body = None
    if body is not None:
        start_response('200 OK', text + [('Content-Length', str(len(body)))])
        return [body]
    if q == 'write':
        write = start_response('200 OK', text)
        write(b'written;')
        return [b'returned']
    if q == 'generator':
        start_response('200 OK', text)
        def gen():
            yield b'one;'
            yield b''
            yield b'two'
        return gen()
    if q == 'exc_info':
        start_response('200 OK', text)
        try:
            raise ValueError('replaced by the second call')
        except ValueError:
            start_response('500 Internal Server Error', text, sys.exc_info())
        return [b'error page']
    if q == 'errors':
        errors = environ['wsgi.errors']
        errors.write('validator: a line\n')
        errors.writelines(['validator: two ', 'lines\n'])
        errors.flush()
        start_response('200 OK', text)
        return [b'logged']
    if q == 'no_content':
        start_response('204 No Content', [])
        return []
    if q == 'not_modified':
        start_response('304 Not Modified', [])
        return []
    if q == 'file_wrapper':
        import io
        start_response('200 OK', text)
        return environ['wsgi.file_wrapper'](io.BytesIO(b'wrapped file-like'), 4)
    if q == 'control_no_content_type':
        start_response('200 OK', [])
        return [b'the validator refuses this']
    if q == 'cl':
        start_response('200 OK', text + [('Content-Length', '5')])
        return [b'12345']
    start_response('200 OK', text)
    return [('%s %s %s' % (environ['REQUEST_METHOD'], environ['SCRIPT_NAME'], environ['PATH_INFO'])).encode()]

application = validator(raw)
