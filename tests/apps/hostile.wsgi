# Fault suite, hostile applications: PATH_INFO picks how the application
# breaks the WSGI contract (or its process). "/ok" answers "ok <pid>\n".
import ctypes
import os


def application(environ, start_response):
    case = environ.get('PATH_INFO', '')
    ok = [('Content-Type', 'text/plain')]
    if case == '/str_body':
        start_response('200 OK', ok)
        return ['text, not bytes']
    if case == '/none_item':
        start_response('200 OK', ok)
        return [b'first ', None, b'last']
    if case == '/none_in_generator':
        start_response('200 OK', ok)
        return (item for item in [b'first ', None, b'last'])
    if case == '/none_body':
        start_response('200 OK', ok)
        return None
    if case == '/crlf_value':
        start_response('200 OK', ok + [('X-Injected', 'a\r\nSet-Cookie: injected=1')])
        return [b'body after an injected header']
    if case == '/lf_value':
        start_response('200 OK', ok + [('X-Injected', 'a\nSet-Cookie: injected=1')])
        return [b'body after an injected header']
    if case == '/crlf_name':
        start_response('200 OK', ok + [('Set-Cookie: injected=1\r\nX-Name', 'a')])
        return [b'body after an injected header']
    if case == '/crlf_status':
        start_response('200 OK\r\nSet-Cookie: injected=1', ok)
        return [b'body after an injected status']
    if case == '/not_latin1':
        start_response('200 OK', ok + [('X-Price', '10 \u20ac')])
        return [b'body after a non-latin-1 header']
    if case == '/exit':
        os._exit(1)
    if case == '/segfault':
        ctypes.string_at(0)
    body = ('ok %d\n' % os.getpid()).encode()
    start_response('200 OK', ok + [('Content-Length', str(len(body)))])
    return [body]
