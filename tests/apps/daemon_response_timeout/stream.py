def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])
    if environ['PATH_INFO'] == '/quick':
        return [b'quick']
    chunk = b'x' * 65536
    return (chunk for _ in range(4096))
