
kept = []

def application(environ, start_response):
    e = environ['wsgi.errors']
    what = environ['QUERY_STRING']
    if what == 'mark':
        e.marker = 1
    elif what == 'keep':
        kept.append(e)
    elif what == 'close':
        e.close()
    elif what == 'reconfigure':
        e.reconfigure(line_buffering=False)
    seen = 'marker=%s kept=%s closed=%s line_buffering=%s type=%s' % (
        hasattr(e, 'marker'), any(k is e for k in kept), e.closed, e.line_buffering, type(e).__name__)
    if what == 'write':
        e.write('errors-state written\n')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [seen.encode()]
