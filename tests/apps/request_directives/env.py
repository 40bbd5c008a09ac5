
import os

def application(environ, start_response):
    lines = ['%s=%r' % (k, environ[k]) for k in sorted(environ)]
    for k in ('TEST_SETENV', 'TEST_REWRITE_ENV', 'REMOTE_USER', 'AUTH_TYPE', 'HTTP_AUTHORIZATION'):
        lines.append('os.environ:%s=%r' % (k, os.environ.get(k)))
    body = ('\n'.join(lines) + '\n').encode('utf-8', 'backslashreplace')
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
