
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])
    def chunks():
        for i in range(160):
            yield (b'%08d' % i) * 8192
    return chunks()
