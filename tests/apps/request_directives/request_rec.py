import ctypes
def application(environ, start_response):
    capsule = environ.get('apache.request_rec')
    if capsule is None:
        body = b'none'
    else:
        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        r = get(capsule, None)
        # request_rec: pool, connection, server, next, prev, main, the_request.
        the_request = ctypes.c_char_p.from_address(r + 6 * ctypes.sizeof(ctypes.c_void_p)).value
        body = type(capsule).__name__.encode() + b' ' + the_request
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
