import os
def handle_request(environ, start_response):
    body = '%s|%s|%s|%s' % (os.path.basename(environ['SCRIPT_FILENAME']),
                            os.path.basename(environ['mod_wsgi.handler_script']),
                            environ['mod_wsgi.process_group'], environ['mod_wsgi.application_group'])
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body.encode()]
