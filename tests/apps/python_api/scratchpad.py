import mod_wsgi
def application(environ, start_response):
    data = mod_wsgi.request_data()
    data['mine'] = environ['PATH_INFO']
    rid = environ.get('mod_wsgi.request_id')
    active = mod_wsgi.active_requests
    text = '%s %s %s %d' % (mod_wsgi.request_data() is data, active.get(rid) is data, 'active_requests' in dir(mod_wsgi), len(active))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [text.encode()]
