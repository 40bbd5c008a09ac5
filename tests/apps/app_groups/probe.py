MARK = '{mark}'
import os, sys, types, urllib.parse
import mod_wsgi
import _xxsubinterpreters

hits = 0

def application(environ, start_response):
    global hits
    hits += 1
    query = dict(urllib.parse.parse_qsl(environ.get('QUERY_STRING', '')))
    shared = sys.modules.get('probe_shared')
    if shared is None:
        shared = types.ModuleType('probe_shared')
        shared.value = ''
        sys.modules['probe_shared'] = shared
    if 'set' in query:
        shared.value = query['set']
    marks = set()
    for m in list(sys.modules.values()):
        mark = getattr(m, '__dict__', {}).get('MARK')
        if isinstance(mark, str):
            marks.add(mark)
    out = [
        ('mark', MARK),
        ('group', mod_wsgi.application_group),
        ('environ_group', environ.get('mod_wsgi.application_group')),
        ('interp', int(_xxsubinterpreters.get_current())),
        ('main_interp', int(_xxsubinterpreters.get_main())),
        ('shared', shared.value),
        ('marks', ','.join(sorted(marks))),
        ('hits', hits),
        ('pid', os.getpid()),
        ('SERVER_NAME', environ.get('SERVER_NAME')),
        ('SERVER_PORT', environ.get('SERVER_PORT')),
        ('SCRIPT_NAME', environ.get('SCRIPT_NAME')),
    ]
    body = ''.join('%s=%s\n' % item for item in out).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
