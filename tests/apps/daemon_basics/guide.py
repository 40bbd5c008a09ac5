import os

def application(environ, start_response):
    if environ.get('PATH_INFO') == '/__info':
        facts = {'proc.pid': os.getpid(), 'proc.ppid': os.getppid()}
        lines = ['%s=%r' % (k, v) for k, v in sorted(facts.items())]
        lines += ['%s=%r' % (k, environ[k]) for k in sorted(environ)]
        output = ('\n'.join(lines) + '\n').encode('utf-8')
        start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8')])
        return [output]
    status = '200 OK'
    output = b'Hello World!'
    response_headers = [('Content-type', 'text/plain'),
                        ('Content-Length', str(len(output)))]
    start_response(status, response_headers)
    return [output]
