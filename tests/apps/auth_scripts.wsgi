# The access and auth functions of tests/auth_scripts.rs, in one script (as
# mod_wsgi's guide allows). Some user names ask for an answer a test needs:
# a renamed user (which the application then sees as REMOTE_USER), an
# exception, a value of the wrong type.
import hashlib
import os

import mod_wsgi

PASSWORDS = {
    'spy': 'secret',
    'agent': 'secret',
    'loner': 'secret',
    'bspy': 'secret',
    'shouty': 'secret',
    'careful': 'secret',
    'graise': 'secret',
    'gwrongtype': 'secret',
    'gstring': 'secret',
}

GROUPS = {
    'spy': ['secret-agents', 'staff'],
    'agent': ['staff'],
    'bspy': [b'secret-agents'],
    'shouty': ['SECRET-AGENTS'],
    'careful': ['secret-agents'],
}


# A helper kept from one call to the next.
KEPT = []


def log(environ, text):
    environ['wsgi.errors'].write(text + '\n')


def special(environ, user):
    """The answers asked for by name; None when `user` is an ordinary one."""
    if user == 'raise':
        raise RuntimeError('raised for the test')
    if user == 'wrongtype':
        return 42
    if user == 'rename':
        return 'renamed'
    if user == 'where':
        return 'where|%s|%s|%d' % (environ['mod_wsgi.application_group'], mod_wsgi.process_group, os.getpid())
    if user == 'environ':
        return ','.join(sorted(environ))
    if user == 'ssl':
        KEPT[:] = [environ['mod_ssl.is_https']]
        return 'ssl|%r|%r' % (environ['mod_ssl.is_https'](), environ['mod_ssl.var_lookup']('SSL_PROTOCOL'))
    if user == 'expired':
        try:
            KEPT[0]()
        except RuntimeError as e:
            return 'expired|%s' % e
        return 'expired|no error'
    return None


def check_password(environ, user, password):
    log(environ, 'check_password(%s)' % user)
    answer = special(environ, user)
    if answer is not None:
        return answer
    if user not in PASSWORDS:
        return None
    return password == PASSWORDS[user]


def get_realm_hash(environ, user, realm):
    log(environ, 'get_realm_hash(%s, %s)' % (user, realm))
    if user in ('raise', 'wrongtype'):
        return special(environ, user)
    if user == 'bytes':
        return hashlib.md5(('bytes:%s:secret' % realm).encode()).hexdigest().encode()
    if user not in PASSWORDS:
        return None
    return hashlib.md5(('%s:%s:%s' % (user, realm, PASSWORDS[user])).encode()).hexdigest()


def groups_for_user(environ, user):
    log(environ, 'groups_for_user(%s)' % user)
    if user == 'graise':
        raise RuntimeError('raised for the test')
    if user == 'gwrongtype':
        return 42
    if user == 'gstring':
        return 'secret-agents'
    return GROUPS.get(user, [])


def allow_access(environ, host):
    decision = environ.get('HTTP_X_ACCESS', '')
    log(environ, 'allow_access(%s, %s)' % (host, decision))
    if decision == 'raise':
        raise RuntimeError('raised for the test')
    if decision == 'host':
        # Seen by the test as the text of a 403's log line.
        log(environ, 'allow_access host is %r' % (host,))
        return False
    return {'allow': True, 'deny': False, 'defer': None, 'wrongtype': 1}[decision]
