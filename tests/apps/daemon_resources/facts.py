import ctypes, os, resource, uuid

libc = ctypes.CDLL(None)
libc.pthread_self.restype = ctypes.c_ulong

def thread_stack_size():
    attr = ctypes.create_string_buffer(128)
    if libc.pthread_getattr_np(ctypes.c_ulong(libc.pthread_self()), attr) != 0:
        return -1
    addr, size = ctypes.c_void_p(), ctypes.c_size_t()
    libc.pthread_attr_getstack(attr, ctypes.byref(addr), ctypes.byref(size))
    libc.pthread_attr_destroy(attr)
    return size.value

def limit(name):
    """Soft and hard value of a /proc/self/limits line."""
    with open('/proc/self/limits') as f:
        line = next(l for l in f if l.startswith(name + '  '))
    return ' '.join(line[len(name):].split()[0:2])

def allocate(n):
    try:
        block = bytearray(n)
    except MemoryError:
        return 'MemoryError'
    del block
    return 'ok'

def application(environ, start_response):
    path = os.path.join(os.path.dirname(__file__), '..', 'files', uuid.uuid4().hex)
    with open(path, 'w') as f:
        f.write('x')
    facts = {
        'mode': '%04o' % (os.stat(path).st_mode & 0o777),
        'stack': thread_stack_size(),
        'rlimit_stack': resource.getrlimit(resource.RLIMIT_STACK)[0],
        'address_space': limit('Max address space'),
        'data_size': limit('Max data size'),
    }
    query = environ.get('QUERY_STRING', '')
    if query.startswith('alloc='):
        facts['alloc'] = allocate(int(query[6:]))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [''.join('%s=%s\n' % kv for kv in facts.items()).encode()]
