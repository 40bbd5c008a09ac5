import os

def application(environ, start_response):
    if environ.get('PATH_INFO') == '/die':
        os._exit(1)
    facts = {
        'proc.pid': os.getpid(),
        'proc.ppid': os.getppid(),
        'proc.uid': os.getuid(),
        'proc.gid': os.getgid(),
        'proc.euid': os.geteuid(),
        'proc.egid': os.getegid(),
        'proc.cwd': os.getcwd(),
    }
    lines = ['%s=%r' % (k, v) for k, v in sorted(facts.items())]
    lines += ['%s=%r' % (k, environ[k]) for k in sorted(environ)]
    output = ('\n'.join(lines) + '\n').encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8'),
                              ('Content-Length', str(len(output)))])
    return [output]
