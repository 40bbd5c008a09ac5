# The mod_wsgi Python API, as an application sees it. Every answer is
# `key=value` lines (values are reprs unless said otherwise). The
# subscriber below records each event, by the path of its request, as the
# sorted `key:type` list of its keyword arguments.
import logging
import os
import sys
import threading
import time

import mod_wsgi

EVENTS = []
LOCK = threading.Lock()
OUT = os.environ.get('API_TEST_OUT') or os.path.join(os.path.dirname(__file__), '..', 'out')


def describe(kwargs):
    return ','.join('%s:%s' % (k, type(v).__name__) for k, v in sorted(kwargs.items()))


def wrapped(app):
    def wrapper(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'replaced\n']
    return wrapper


def subscriber(name, **kwargs):
    data = kwargs.get('request_data')
    if name == 'request_started':
        data['path'] = kwargs['request_environ'].get('PATH_INFO', '')
        data['seen'] = 'request_started'
        data['ident'] = threading.get_ident()
    path = data.get('path', '?') if data is not None else '-'
    with LOCK:
        EVENTS.append((path, name, describe(kwargs), kwargs.get('status'), kwargs.get('request_id'),
                       kwargs.get('output_length')))
    if name == 'request_started' and path == '/replace':
        return {'application_object': wrapped(kwargs['application_object'])}
    if name == 'request_started' and path == '/callback-fails':
        raise ValueError('subscriber failed on purpose')


returned = mod_wsgi.subscribe_events(subscriber)


def shutdown(name, **kwargs):
    path = os.path.join(OUT, 'stopping-%d' % os.getpid())
    with open(path, 'w') as f:
        f.write('%s %s %s\n' % (name, kwargs.get('shutdown_reason'), describe(kwargs)))


mod_wsgi.subscribe_shutdown(shutdown)


def public(module):
    return ','.join(sorted(n for n in dir(module) if not n.startswith('__')))


def kinds(d):
    return ','.join('%s:%s' % (k, type(v).__name__) for k, v in sorted(d.items()))


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    query = environ.get('QUERY_STRING', '')
    out = []
    if path == '/names':
        out.append(('mod_wsgi', public(mod_wsgi)))
        out.append(('subscribe_returns_callback', returned is subscriber))
        for k in ('process_group', 'application_group', 'maximum_processes', 'threads_per_process', 'version'):
            out.append(('mod_wsgi.' + k, repr(getattr(mod_wsgi, k))))
        out.append(('RequestTimeout_base', mod_wsgi.RequestTimeout.__bases__[0].__name__
                    if hasattr(mod_wsgi, 'RequestTimeout') else None))
        try:
            import apache
            out.append(('apache', public(apache)))
            for k in ('version', 'maximum_processes', 'threads_per_process', 'mpm_name', 'description', 'build_date'):
                out.append(('apache.' + k, repr(getattr(apache, k))))
        except ImportError as e:
            out.append(('apache', repr(e)))
    elif path == '/events':
        want = query
        with LOCK:
            mine = [e for e in EVENTS if e[0] == want]
        for i, (p, name, desc, status, rid, length) in enumerate(mine):
            out.append(('%d' % i, '%s %s' % (name, desc)))
            if name == 'request_finished':
                out.append(('%d.status' % i, status))
                out.append(('%d.output_length' % i, length))
            out.append(('%d.request_id' % i, rid == mine[0][4]))
        out.append(('count', len(mine)))
    elif path == '/raise':
        raise ValueError('raised on purpose')
    elif path == '/data':
        data = mod_wsgi.request_data()
        out.append(('seen', data.get('seen')))
        out.append(('same_thread', data.get('ident') == threading.get_ident()))
        rid = environ.get('mod_wsgi.request_id')
        out.append(('active', rid in mod_wsgi.active_requests and mod_wsgi.active_requests[rid] is data))
        errors = []
        t = threading.Thread(target=lambda: errors.append(_call(mod_wsgi.request_data)))
        t.start()
        t.join()
        out.append(('other_thread', errors[0]))
    elif path == '/outside':
        out.append(('active_now', len(mod_wsgi.active_requests)))
        out.append(('mine', environ.get('mod_wsgi.request_id') in mod_wsgi.active_requests))
    elif path == '/metrics':
        name = query
        f = getattr(mod_wsgi, name, None)
        if f is None:
            out.append(('missing', True))
        else:
            r = f()
            if isinstance(r, dict):
                out.append(('kinds', kinds(r)))
                for k in ('request_count', 'request_threads_maximum', 'server_limit', 'thread_limit', 'active_requests',
                          'queue_time', 'daemon_time', 'status_2xx', 'status_5xx', 'pid'):
                    if k in r:
                        out.append((k, r[k]))
                for k in ('application_time_buckets', 'server_time_buckets', 'request_threads_buckets'):
                    if k in r:
                        out.append((k + '.len', len(r[k])))
                        out.append((k + '.sum', sum(r[k])))
                if 'threads' in r:
                    out.append(('threads', sorted(tuple(sorted(t.items())) for t in r['threads'])))
                if 'processes' in r:
                    procs = r['processes']
                    out.append(('processes.len', len(procs)))
                    out.append(('process.kinds', kinds({k: v for k, v in procs[0].items()})))
                    out.append(('worker.kinds', kinds(procs[0]['workers'][0])))
                    out.append(('pids', sorted(p['pid'] for p in procs if p['pid'])))
            else:
                out.append(('value', r))
    elif path == '/start-recording':
        out.append(('value', mod_wsgi.start_recording_metrics()))
    elif path == '/errbuf':
        b = environ['wsgi.errors'].buffer
        for v in (b'buf-bytes\n', bytearray(b'buf-bytearray\n'), memoryview(b'buf-memoryview\n')):
            out.append((type(v).__name__, _call(lambda: b.write(v))))
        out.append(('writelines', _call(lambda: b.writelines([b'buf-line-1\n', bytearray(b'buf-line-2\n')]))))
        out.append(('str', _call(lambda: b.write('text'))))
    elif path == '/log':
        logger = logging.getLogger('api-test')
        if not logger.handlers:
            logger.addHandler(mod_wsgi.LogHandler())
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
        marker = query
        logger.debug('%s debug record', marker)
        logger.info('%s info record', marker)
        logger.warning('%s warning record', marker)
        logger.error('%s error record\nsecond line', marker)
        logger.critical('%s critical record', marker)
        out.append(('logged', True))
    elif path == '/log-thread':
        logger = logging.getLogger('api-test-thread')
        if not logger.handlers:
            logger.addHandler(mod_wsgi.LogHandler())
            logger.propagate = False
        t = threading.Thread(target=lambda: logger.warning('%s from a thread', query))
        t.start()
        t.join()
        out.append(('logged', True))
    elif path == '/slow':
        time.sleep(float(query or '1'))
    elif path == '/pid':
        pass
    out.append(('pid', os.getpid()))
    text = ''.join('%s=%s\n' % (k, v) for k, v in out).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(text)))])
    return [text]


def _call(f):
    try:
        return 'ok %r' % (f(),)
    except BaseException as e:
        return '%s: %s' % (type(e).__name__, e)
