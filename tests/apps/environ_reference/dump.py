
import os

def application(environ, start_response):
    body = environ['wsgi.input'].read() if environ['REQUEST_METHOD'] == 'POST' else None
    lines = ['%s\t%s\t%r' % (k, type(v).__name__, v) for k, v in sorted(environ.items())]
    lines.append('-body\t%s\t%r' % (type(body).__name__, body))
    leaked = sorted(k for k in os.environ if k.startswith(('HTTP_', 'mod_wsgi.', 'SCRIPT_', 'PATH_INFO')))
    lines.append('-os.environ leaks\tlist\t%r' % (leaked,))
    name = environ.get('HTTP_X_DUMP', 'unnamed')
    with open(os.path.join('{state}', name + '.txt'), 'w', encoding='utf-8', errors='backslashreplace') as f:
        f.write('\n'.join(lines) + '\n')
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '3')])
    return [b'ok\n']
