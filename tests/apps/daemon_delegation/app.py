def application(environ, start_response):
    if environ['PATH_INFO'] == '/status':
        code = environ['QUERY_STRING']
        start_response(code + ' From App', [('Content-Type', 'text/plain')])
        return [b'the application page']
    start_response('200 OK', [('Content-Type', 'text/html'),
                              ('Location', environ['QUERY_STRING']),
                              ('Cache-Control', 'private'),
                              ('Content-Disposition', 'attachment; filename="report.txt"')])
    return [b'body the application sent, dropped']
