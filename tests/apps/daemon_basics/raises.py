
def application(environ, start_response):
    raise RuntimeError('daemon boom %s' % environ['QUERY_STRING'])
