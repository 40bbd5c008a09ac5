def pattern(seed, start, n):
    return bytes((seed + i * 7 + i // 251) % 256 for i in range(start, start + n))

def application(environ, start_response):
    sizes = [int(s) for s in environ['QUERY_STRING'].split(',')]
    mode, seed = environ['PATH_INFO'].strip('/').split('/')
    seed = int(seed)
    write = start_response('200 OK', [('Content-Type', 'application/octet-stream')])
    def chunks():
        offset = 0
        for n in sizes:
            yield pattern(seed, offset, n)
            offset += n
    if mode == 'write':
        for c in chunks():
            write(c)
        return []
    return chunks()
