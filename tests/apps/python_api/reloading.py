import os
HERE = os.path.dirname(__file__)
OUT = os.path.join(HERE, '..', 'out')
LOADED = os.getpid(), id(object())

def reload_required(resource):
    with open(os.path.join(OUT, 'asked'), 'a') as f:
        f.write(resource + '\n')
    if os.path.exists(os.path.join(OUT, 'raise')):
        raise ValueError('reload_required failed on purpose')
    flag = os.path.join(OUT, 'reload')
    if os.path.exists(flag):
        os.remove(flag)
        return True
    return False

def application(environ, start_response):
    text = ('%d %d\n' % LOADED).encode()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [text]
