
import os
def application(environ, start_response):
    keys = ['REMOTE_USER', 'AUTH_TYPE', 'HTTP_AUTHORIZATION', 'mod_wsgi.process_group']
    lines = ['%s=%s' % (k, environ.get(k, '-')) for k in keys]
    lines.append('pid=%d' % os.getpid())
    out = ('\n'.join(lines) + '\n').encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(out)))])
    return [out]
