import os, time

def application(environ, start_response):
    if environ.get('PATH_INFO') == '/big':
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return (bytes([65 + i]) * 65536 for i in range(5))
    if environ.get('PATH_INFO') == '/slow':
        time.sleep(1.5)
        body = b'proc.pid=%d\n' % os.getpid()
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [body]
    return info(environ, start_response)
