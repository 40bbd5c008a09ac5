
def application(environ, start_response):
    environ['wsgi.errors'].write('%s\n' % environ['QUERY_STRING'])
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'logged']
