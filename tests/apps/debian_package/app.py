import mod_wsgi

def application(environ, start_response):
    body = ('%s %s' % (mod_wsgi.implementation, environ['mod_wsgi.process_group'])).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
