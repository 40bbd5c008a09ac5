import sys
def application(environ, start_response):
    token = environ['QUERY_STRING']
    environ['wsgi.errors'].write('errors %s\n' % token)
    sys.stderr.write('stderr %s\n' % token)
    sys.stderr.flush()
    print('print %s' % token)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'ok']
