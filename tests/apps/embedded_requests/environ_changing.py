
def application(environ, start_response):
    seen = '%s %s %s %s' % (environ.get('added'), environ.get('REQUEST_METHOD'),
                            'wsgi.version' in environ, environ['wsgi.version'])
    what = environ['QUERY_STRING']
    if what == 'change':
        environ['added'] = 'yes'
        environ['REQUEST_METHOD'] = 'CHANGED'
        del environ['wsgi.version']
        environ.clear()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [seen.encode()]
