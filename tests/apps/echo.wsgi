# Fault suite, hostile requests: "<PATH_INFO> pid=<pid> read=<n>\n".
# With the query string "read" it reads the whole request body first and does
# not catch the OSError a broken body raises (frameworks do not either);
# otherwise it never touches wsgi.input.
import os


def application(environ, start_response):
    n = -1
    if environ.get('QUERY_STRING') == 'read':
        n = len(environ['wsgi.input'].read())
    body = ('%s pid=%d read=%d\n' % (environ.get('PATH_INFO', ''), os.getpid(), n)).encode('latin-1')
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]
