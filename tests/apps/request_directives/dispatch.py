def process_group(environ):
    if environ['REQUEST_URI'].startswith('/app/admin'):
        return 'admin'
    return None

def application_group(environ):
    if 'global' in environ.get('QUERY_STRING', ''):
        return '%{GLOBAL}'
    return None

def callable_object(environ):
    return 'other' if environ['REQUEST_URI'].endswith('/other') else None
