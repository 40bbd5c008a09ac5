import os, mod_wsgi
OUT = os.path.join(os.path.dirname(__file__), '..', 'out')

@mod_wsgi.subscribe_signals
def received(signum):
    with open(os.path.join(OUT, 'signal-%d' % os.getpid()), 'a') as f:
        f.write('%s %d\n' % (signum.name, int(signum)))

def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%d\n' % os.getpid()]
