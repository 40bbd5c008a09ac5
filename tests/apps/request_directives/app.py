def answer(name):
    def app(environ, start_response):
        body = '%s|%s|%s' % (name, environ['mod_wsgi.process_group'], environ['mod_wsgi.application_group'])
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [body.encode()]
    return app
application = answer('application')
other = answer('other')
