
import os, sys, time

STATE = '{state}'
KEPT = {}

def marker(name, text='closed'):
    with open(os.path.join(STATE, name), 'w') as f:
        f.write(text)

class Body:
    """An iterable whose close() leaves a marker file."""
    def __init__(self, name, items, fail_at=None):
        self.name, self.items, self.fail_at, self.count = name, items, fail_at, 0
    def __iter__(self):
        for i, item in enumerate(self.items):
            if i == self.fail_at:
                raise ValueError('iteration failed at item %d' % i)
            self.count += 1
            yield item
        if self.fail_at == len(self.items):
            raise ValueError('iteration failed at the end')
    def close(self):
        marker(self.name, 'closed after %d items' % self.count)

def application(environ, start_response):
    q = environ.get('QUERY_STRING', '')
    case, _, arg = q.partition('&')
    text = [('Content-Type', 'text/plain')]

    if case == 'twice':
        start_response('200 OK', text + [('X-First', '1')])
        start_response('201 Created', text + [('X-Second', '1')])
        return [b'second call wins\n']
    if case == 'excinfo_before':
        start_response('200 OK', text + [('X-First', '1')])
        try:
            raise ValueError('oops')
        except ValueError:
            start_response('500 Internal Error', text + [('X-Second', '1')], sys.exc_info())
        return [b'replaced\n']
    if case == 'excinfo_first':
        try:
            raise ValueError('first call exc')
        except ValueError:
            start_response('503 Service Unavailable', text, sys.exc_info())
        return [b'exc_info on the first call\n']
    if case == 'excinfo_after':
        write = start_response('200 OK', text + [('X-First', '1')])
        write(b'already sent\n')
        try:
            raise ValueError('oops after output ' + arg)
        except ValueError:
            start_response('500 Internal Error', text, sys.exc_info())
        return [b'not reached\n']
    if case == 'excinfo_not_tuple':
        try:
            start_response('200 OK', text, ['not', 'a', 'tuple'])
            result = 'no exception'
        except Exception as e:
            result = repr(e)
        start_response('200 OK', text)
        return [result.encode()]
    if case == 'twice_after_write':
        write = start_response('200 OK', text)
        write(b'data\n')
        try:
            start_response('201 Created', text)
            result = 'no exception'
        except Exception as e:
            result = repr(e)
        return [('second call: %s\n' % result).encode()]
    if case == 'write_then_generator':
        write = start_response('200 OK', text)
        write(b'written;')
        def gen():
            yield b'yielded;'
            write(b'written-while-iterating;')
            yield b'end'
        return gen()
    if case == 'no_start_response':
        return [b'never started\n']
    if case == 'keep':
        KEPT['write'] = start_response('200 OK', text)
        KEPT['start_response'] = start_response
        KEPT['input'] = environ['wsgi.input']
        return [b'kept\n']
    if case == 'use_kept':
        results = []
        for name, use in [('write', lambda: KEPT['write'](b'x')),
                          ('start_response', lambda: KEPT['start_response']('200 OK', [])),
                          ('input.read', lambda: KEPT['input'].read()),
                          ('input.readline', lambda: KEPT['input'].readline()),
                          ('input.readlines', lambda: KEPT['input'].readlines()),
                          ('input.iter', lambda: next(iter(KEPT['input'])))]:
            try:
                use()
                results.append('%s: no exception' % name)
            except Exception as e:
                results.append('%s: %r' % (name, e))
        start_response('200 OK', text)
        return [('\n'.join(results) + '\n').encode()]
    if case == 'close_normal':
        start_response('200 OK', text)
        return Body(arg, [b'a;', b'b'])
    if case == 'close_raises_first':
        start_response('200 OK', text)
        return Body(arg, [b'a;', b'b'], fail_at=0)
    if case == 'close_raises_later':
        start_response('200 OK', text)
        return Body(arg, [b'a;', b'b;'], fail_at=2)
    if case == 'close_str_item':
        start_response('200 OK', text)
        return Body(arg, [b'bytes;', 'str'])
    if case == 'close_client_gone':
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        def blocks():
            for i in range(4000):
                yield b'x' * 65536
                time.sleep(0.005)
        return Body(arg, blocks())
    if case == 'cl_over':
        start_response('200 OK', text + [('Content-Length', '5')])
        return [b'0123456789']
    if case == 'cl_over_split':
        start_response('200 OK', text + [('Content-Length', '5')])
        return [b'012', b'3456789']
    if case == 'cl_under':
        start_response('200 OK', text + [('Content-Length', '10')])
        return [b'01234']
    if case == 'cl_invalid':
        start_response('200 OK', text + [('Content-Length', arg)])
        return [b'0123456789']
    if case == 'head_cl':
        start_response('200 OK', text + [('Content-Length', '10'), ('X-Method', environ['REQUEST_METHOD'])])
        return [b'0123456789']
    if case == 'head_cl_no_body':
        start_response('200 OK', text + [('Content-Length', '10'), ('X-Method', environ['REQUEST_METHOD'])])
        return []
    if case == 'head_no_cl':
        start_response('200 OK', text + [('X-Method', environ['REQUEST_METHOD'])])
        return [b'0123456789']
    if case == 'head_generator':
        start_response('200 OK', text + [('X-Method', environ['REQUEST_METHOD'])])
        def gen():
            yield b'01234'
            yield b'56789'
        return gen()
    if case == 'iter_raises':
        start_response('200 OK', text + ([('Content-Length', '100')] if arg == 'cl' else []))
        def gen():
            yield b'first chunk\n'
            raise RuntimeError('boom during iteration')
        return gen()
    if case == 'exit':
        sys.exit(3)
    start_response('404 Not Found', text)
    return [b'unknown case\n']
