
CASES = {
  'status_200':       ('200', [('Content-Type', 'text/plain')]),
  'status_abc':       ('abc OK', [('Content-Type', 'text/plain')]),
  'status_bytes':     (b'200 OK', [('Content-Type', 'text/plain')]),
  'status_999':       ('999 Weird', [('Content-Type', 'text/plain')]),
  'status_99':        ('99 Low', [('Content-Type', 'text/plain')]),
  'status_1000':      ('1000 Big', [('Content-Type', 'text/plain')]),
  'status_nospace':   ('200OK', [('Content-Type', 'text/plain')]),
  'status_reason':    ('404 my custom reason', [('Content-Type', 'text/plain')]),
  'status_int':       (200, [('Content-Type', 'text/plain')]),
  'status_crlf':      ('200 OK\r\nX-Injected: 1', [('Content-Type', 'text/plain')]),
  'val_crlf':         ('200 OK', [('Content-Type', 'text/plain'), ('X-Bad', 'a\r\nX-Injected: 1')]),
  'val_lf':           ('200 OK', [('Content-Type', 'text/plain'), ('X-Bad', 'a\nX-Injected: 1')]),
  'name_space':       ('200 OK', [('Content-Type', 'text/plain'), ('X Bad', 'v')]),
  'name_crlf':        ('200 OK', [('Content-Type', 'text/plain'), ('X-Bad\r\nX-Inj', 'v')]),
  'name_tab':         ('200 OK', [('Content-Type', 'text/plain'), ('X-Bad\tTab', 'v')]),
  'val_euro':         ('200 OK', [('Content-Type', 'text/plain'), ('X-Euro', '\u20ac')]),
  'val_latin1':       ('200 OK', [('Content-Type', 'text/plain'), ('X-Latin1', '\u00e9')]),
  'val_bytes':        ('200 OK', [('Content-Type', 'text/plain'), ('X-Bytes', b'v')]),
  'name_bytes':       ('200 OK', [('Content-Type', 'text/plain'), (b'X-Bytes', 'v')]),
  'val_int':          ('200 OK', [('Content-Type', 'text/plain'), ('X-Int', 5)]),
  'hdr_status':       ('200 OK', [('Content-Type', 'text/plain'), ('Status', '404 Not Found')]),
  'conn_close':       ('200 OK', [('Content-Type', 'text/plain'), ('Connection', 'close')]),
  'keep_alive':       ('200 OK', [('Content-Type', 'text/plain'), ('Keep-Alive', 'timeout=5')]),
  'no_ct':            ('200 OK', []),
  'dup_hdr':          ('200 OK', [('Content-Type', 'text/plain'), ('X-Dup', 'a'), ('X-Dup', 'b'), ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')]),
  'headers_tuple':    ('200 OK', (('Content-Type', 'text/plain'),)),
  'header_3tuple':    ('200 OK', [('Content-Type', 'text/plain', 'x')]),
  'header_list_item': ('200 OK', [['Content-Type', 'text/plain']]),
  'location_rel':     ('302 Found', [('Location', '/somewhere')]),
  'ct_lower':         ('200 OK', [('content-type', 'text/html'), ('content-length', '3')]),
  'empty_name':       ('200 OK', [('Content-Type', 'text/plain'), ('', 'v')]),
  'www_authenticate': ('401 Unauthorized', [('Content-Type', 'text/plain'), ('WWW-Authenticate', 'Basic realm="x"')]),
}

def application(environ, start_response):
    status, headers = CASES[environ['QUERY_STRING']]
    start_response(status, headers)
    return [b'body\n']
