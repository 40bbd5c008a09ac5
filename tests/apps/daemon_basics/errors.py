
def application(environ, start_response):
    token = environ['QUERY_STRING']
    errors = environ['wsgi.errors']
    errors.write('%s first line\n' % token)
    errors.writelines(['%s second line\n' % token, '%s third line\n' % token])
    errors.flush()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'logged']
