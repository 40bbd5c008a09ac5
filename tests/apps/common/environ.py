def application(environ, start_response):
    lines = ['%s=%r' % (key, environ[key]) for key in sorted(environ)]
    output = ('\n'.join(lines) + '\n').encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8'),
                              ('Content-Length', str(len(output)))])
    return [output]
