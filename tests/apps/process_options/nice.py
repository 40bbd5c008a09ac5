import os
def application(environ, start_response):
    with open('/proc/self/stat') as f:
        stat = f.read()
    nice = stat[stat.rindex(')') + 2:].split()[16]
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [nice.encode()]
