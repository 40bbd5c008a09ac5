import os, sys
import mod_wsgi

def application(environ, start_response):
    environ['wsgi.errors'].write('express-test-marker %s\n' % environ['PATH_INFO'])
    values = {
        'pid': os.getpid(),
        'uid': os.getuid(),
        'prefix': sys.prefix,
        'cwd': os.getcwd(),
        'process_group': environ['mod_wsgi.process_group'],
        'application_group': environ['mod_wsgi.application_group'],
        'multiprocess': environ['wsgi.multiprocess'],
        'multithread': environ['wsgi.multithread'],
        'maximum_processes': mod_wsgi.maximum_processes,
        'threads_per_process': mod_wsgi.threads_per_process,
        'url_scheme': environ['wsgi.url_scheme'],
        'script_name': environ['SCRIPT_NAME'],
        'path_info': environ['PATH_INFO'],
        'sys_path': ':'.join(sys.path),
    }
    body = ''.join('%s=%s\n' % item for item in values.items()).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
