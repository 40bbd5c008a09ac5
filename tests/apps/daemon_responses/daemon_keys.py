def application(environ, start_response):
    keys = sorted(k for k in environ if k.startswith('mod_wsgi.daemon_'))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('\n'.join('%s=%s' % (k, environ[k]) for k in keys)).encode()]
