import os
def application(environ, start_response):
    facts = [
        'PYTHON_EGG_CACHE=%s' % os.environ.get('PYTHON_EGG_CACHE'),
        'LANG=%s' % os.environ.get('LANG'),
        'LC_ALL=%s' % os.environ.get('LC_ALL'),
        'groups=%s' % ','.join(str(g) for g in sorted(os.getgroups())),
        'module=%s' % __name__,
    ]
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('\n'.join(facts) + '\n').encode()]
