import os

def application(environ, start_response):
    open(os.path.join(environ['STATE_DIR'], 'called-' + environ['QUERY_STRING']), 'w').close()
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'read %d bytes' % len(body)]
