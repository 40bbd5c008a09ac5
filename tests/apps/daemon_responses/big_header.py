def application(environ, start_response):
    start_response('200 OK', [('X-Big', 'y' * int(environ['QUERY_STRING']))])
    return [b'body']
