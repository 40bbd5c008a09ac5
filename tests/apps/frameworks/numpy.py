
import numpy as np
import mod_wsgi, _xxsubinterpreters

def application(environ, start_response):
    seed = int(environ.get('QUERY_STRING') or '0')
    a = np.arange(1, 1001, dtype=np.float64)
    m = np.array([[2.0, 1.0], [1.0, 3.0]])
    # Sorting a large array releases the GIL inside numpy.
    r = np.sort(np.random.default_rng(seed).random(200000))
    out = [
        ('sum', int(a.sum())),
        ('dot', int(a @ a)),
        ('det', round(float(np.linalg.det(m)), 6)),
        ('sorted', bool(np.all(r[:-1] <= r[1:]))),
        ('group', repr(mod_wsgi.application_group)),
        ('main', int(_xxsubinterpreters.get_current()) == int(_xxsubinterpreters.get_main())),
        ('numpy', np.__version__),
    ]
    body = ''.join('%s=%s\n' % kv for kv in out).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
