"""mod_wsgi-express for mod_wsgi-rs: run a WSGI application under Apache
httpd without writing its configuration.

    mod_wsgi-express start-server app.wsgi [options]     serve it (foreground)
    mod_wsgi-express setup-server app.wsgi [options]     write the server root only
    mod_wsgi-express module-config                      LoadModule/WSGIPythonHome lines
    mod_wsgi-express module-location                    the module's path

The commands and options are those of mod_wsgi's mod_wsgi-express that
people use (the list is in `start-server --help`); any other option of
mod_wsgi-express is refused by name, never ignored. The generated server
runs the application in a daemon process group whose Python home is the
virtual environment this command runs from, as mod_wsgi-express does.
Errors are one line on stderr and a non-zero exit status, with nothing
left running.
"""

import argparse
import ctypes
import errno
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from . import where

PROG = "mod_wsgi-express"
VERSION = "mod_wsgi-rs"

# Options of mod_wsgi-express (4.x/5.x) that this implementation does not
# provide: named in the error, so users know it is not a typo.
UNSUPPORTED_OPTIONS = frozenset(
    """
    --access-log-format --access-log-name --add-handler --allow-localhost --allow-override
    --auth-group --auth-group-script --auth-type --auth-user-script --body-max-timeout --body-min-rate
    --body-timeout --ca-certificate-file --certificate-chain-file --cgi-script --chunked-request
    --compress-responses --connect-timeout --coverage-directory --daemon-backlog --deadlock-timeout
    --debug-mode --debugger-startup --directory-index --directory-listing --enable-coverage
    --enable-debugger --enable-docs --enable-gdb --enable-profiler --enable-recorder --entry-point
    --envvars-script --error-document --error-log-format --error-log-name --error-override
    --eviction-timeout --gdb-executable --graceful-timeout --header-buffer-size --header-max-timeout
    --header-min-rate --header-timeout --host-access-script --hsts-policy --https-only
    --ignore-activity --inactivity-timeout --initial-workers --keep-alive-timeout --lang
    --limit-request-body --locale --log-directory --max-clients --max-log-size --maximum-spare-workers
    --memory-limit --mime-types --minimum-spare-workers --mount-point --newrelic-config-file
    --newrelic-environment --passenv --pid-file --profiler-directory --proxy-buffer-size
    --proxy-mount-point --proxy-url-alias --proxy-virtual-host --python-eggs --queue-timeout
    --receive-buffer-size --recorder-directory --response-buffer-size --response-socket-timeout
    --restart-interval --rewrite-rules --rotate-logs --rotatelogs-executable --send-buffer-size
    --server-alias --server-backlog --server-metrics --server-mpm --server-name --service-group
    --service-log-file --service-script --service-user --setenv --shell-executable
    --shutdown-timeout --socket-timeout --ssl-ca-certificate-file --ssl-certificate-chain-file
    --ssl-environment --ssl-port --ssl-verify-client --startup-log --startup-timeout
    --trust-proxy --trust-proxy-header --trusted-proxy-headers --trusted-proxies --verbose-debugging
    --virtual-memory-limit --with-cgi --with-newrelic --with-newrelic-agent --with-newrelic-platform
    --with-php5 --working-directory-home --application-group --process-name --cpu-time-limit
    --cpu-priority --maximum-requests-per-child --enable-sendfile --include-file-before
    """.split()
)

COMMANDS = ("start-server", "setup-server", "module-config", "module-location")
LOG_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug") + tuple(
    "trace%d" % n for n in range(1, 9)
)
# Apache logs this (at notice level, always) once it serves requests.
STARTED_MARKER = "resuming normal operations"
START_TIMEOUT = 60.0
DEFAULT_USER = "www-data"


class UsageError(Exception):
    """Bad command line: exit status 2."""


class Failure(Exception):
    """Cannot do what was asked: exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError("%s (see: %s --help)" % (message, self.prog))


def _positive(text):
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError("%r is not a positive number" % text)
    return value


def _integer(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text) from None
    if value < 0:
        raise argparse.ArgumentTypeError("%r is negative" % text)
    return value


def _port(text):
    value = _integer(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("%r is not a port number (1 to 65535)" % text)
    return value


def add_server_options(parser, entry_point=True):
    """The options of start-server/setup-server (also runmodwsgi's)."""
    if entry_point:
        parser.add_argument(
            "entry_point",
            nargs="?",
            metavar="SCRIPT-OR-MODULE",
            help="The WSGI script file to serve, or with --application-type module the module.",
        )
    add = parser.add_argument
    add("--application-type", choices=("script", "module"), default="script",
        help="'script' (default): a WSGI script file; 'module': a Python module to import.")
    add("--callable-object", default="application", metavar="NAME",
        help="The name of the WSGI application in the script or module (default: application).")
    add("--host", metavar="IP-ADDRESS", help="The address to listen on (default: every interface).")
    add("--port", type=_port, default=8000, metavar="NUMBER", help="The HTTP port (default: 8000).")
    add("--https-port", type=_port, metavar="NUMBER",
        help="Also serve HTTPS on this port (needs --ssl-certificate-file and --ssl-certificate-key-file).")
    add("--ssl-certificate-file", metavar="FILE-PATH", help="The certificate for --https-port (PEM).")
    add("--ssl-certificate-key-file", metavar="FILE-PATH", help="Its private key (PEM).")
    add("--ssl-certificate", metavar="FILE-PATH",
        help="The common prefix of a certificate FILE-PATH.crt and key FILE-PATH.key.")
    add("--processes", type=_positive, metavar="NUMBER",
        help="The number of daemon processes (default: one, and wsgi.multiprocess is False).")
    add("--threads", type=_positive, default=5, metavar="NUMBER",
        help="Request threads per daemon process (default: 5).")
    add("--maximum-requests", type=_integer, default=0, metavar="NUMBER",
        help="Replace a daemon process after this many requests (default: 0, never).")
    add("--request-timeout", type=_integer, default=60, metavar="SECONDS",
        help="Replace a daemon process whose requests run longer than this (default: 60).")
    add("--user", metavar="NAME", help="When started as root: the user Apache's processes run as (default: www-data).")
    add("--group", metavar="NAME", help="When started as root: their group (default: the user's group).")
    add("--working-directory", metavar="DIRECTORY-PATH",
        help="The daemon processes' current directory, also searched for modules (default: this directory).")
    add("--python-path", action="append", dest="python_paths", default=[], metavar="DIRECTORY-PATH",
        help="A directory to add to sys.path (repeatable).")
    add("--document-root", metavar="DIRECTORY-PATH",
        help="Static files served as they are; other URLs go to the application.")
    add("--url-alias", action="append", nargs=2, dest="url_aliases", default=[],
        metavar=("URL-PATH", "FILE-PATH|DIRECTORY-PATH"), help="Serve a static file or directory at URL-PATH.")
    add("--reload-on-changes", action="store_true",
        help="Replace the daemon processes when a Python file the application loaded changes.")
    add("--log-level", default="info", metavar="NAME", help="Apache's LogLevel (default: info).")
    add("--log-to-terminal", action="store_true", help="Send the error log (and access log) to this terminal.")
    add("--access-log", action="store_true", help="Write an access log.")
    add("--server-status", action="store_true", help="Serve Apache's status page at /server-status (loopback only).")
    add("--include-file", action="append", dest="include_files", default=[], metavar="FILE-PATH",
        help="Apache configuration to include at the end of the generated one (repeatable).")
    add("--server-root", metavar="DIRECTORY-PATH",
        help="Where the configuration, scripts and logs go (default: /tmp/mod_wsgi-HOST:PORT:UID).")
    add("--setup-only", action="store_true", help="Write the server root and exit (as setup-server).")
    add("--httpd-executable", metavar="FILE-PATH", help="Apache's httpd (default: $HTTPD, else /usr/sbin/apache2).")
    add("--modules-directory", metavar="DIRECTORY-PATH",
        help="Apache's modules (default: /usr/lib/apache2/modules).")


def _server_parser(command):
    parser = _Parser(prog="%s %s" % (PROG, command), allow_abbrev=False,
                     description="Runs a WSGI application under Apache httpd with mod_wsgi-rs.")
    add_server_options(parser)
    return parser


def parse_server_options(command, argv):
    parser = _server_parser(command)
    options, extra = parser.parse_known_args(argv)
    check_extra(extra, parser.prog)
    return options


def check_extra(extra, prog):
    """Refuses what argparse left over, naming unsupported express options."""
    for word in extra:
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            if name in UNSUPPORTED_OPTIONS:
                raise UsageError("%s is an option of mod_wsgi-express that mod_wsgi-rs does not support" % name)
            raise UsageError("unknown option %s (see: %s --help)" % (name, prog))
        raise UsageError("unexpected argument %r: give one script or module (see: %s --help)" % (word, prog))


# ---------------------------------------------------------------------------
# Checks.


class Account:
    """The user and group Apache's processes switch to (when started as root)."""

    def __init__(self, user, group, uid, gids):
        self.user, self.group, self.uid, self.gids = user, group, uid, gids


def _account(options):
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid()).pw_name
        try:
            my_group = grp.getgrgid(os.getgid()).gr_name
        except KeyError:
            my_group = "#%d" % os.getgid()
        for option, value, current in (("--user", options.user, me), ("--group", options.group, my_group)):
            if value and value != current:
                raise UsageError("%s %s needs root: Apache switches to another user only when started as root"
                                 % (option, value))
        return None
    user = options.user or DEFAULT_USER
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise Failure("user %r does not exist: name the user Apache's processes run as with --user" % user) from None
    if entry.pw_uid == 0:
        raise Failure("--user %s: Apache's processes must not run as root; choose another user with --user" % user)
    if options.group:
        try:
            gid = grp.getgrnam(options.group).gr_gid
        except KeyError:
            raise Failure("group %r does not exist: name an existing one with --group" % options.group) from None
        group = options.group
    else:
        gid = entry.pw_gid
        try:
            group = grp.getgrgid(gid).gr_name
        except KeyError:
            group = "#%d" % gid
    gids = {gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    return Account(user, group, entry.pw_uid, gids)


def _allows(st, account, bits):
    """Whether the mode of `st` grants `bits` (of r=4, w=2, x=1) to account."""
    if st.st_uid == account.uid:
        granted = (st.st_mode >> 6) & 7
    elif st.st_gid in account.gids:
        granted = (st.st_mode >> 3) & 7
    else:
        granted = st.st_mode & 7
    return granted & bits == bits


def _readable_by(path, account):
    """Whether account may reach and read path (and list it, for a directory)."""
    if account is None:
        return os.access(path, os.R_OK)
    path = os.path.realpath(path)
    parent = os.path.dirname(path)
    while True:
        if not _allows(os.stat(parent), account, 1):
            return False
        if parent == "/":
            break
        parent = os.path.dirname(parent)
    st = os.stat(path)
    return _allows(st, account, 5 if os.path.isdir(path) else 4)


def _check_readable(path, what, account):
    if not _readable_by(path, account):
        raise Failure(
            "%s %s cannot be read by user %s, which Apache's processes run as: move it where that user can read "
            "it (not under /root) or choose the user with --user" % (what, path, account.user)
        )


def _httpd(options):
    candidates = [options.httpd_executable or os.environ.get("HTTPD")]
    if not candidates[0]:
        candidates = ["/usr/sbin/apache2", "/usr/sbin/httpd", shutil.which("apache2"), shutil.which("httpd")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    named = candidates[0] if len(candidates) == 1 else "/usr/sbin/apache2"
    raise Failure("Apache httpd not found (%s): install it (apt-get install apache2) or name it with "
                  "--httpd-executable" % named)


def _modules_directory(options):
    directory = options.modules_directory or "/usr/lib/apache2/modules"
    if not os.path.isfile(os.path.join(directory, "mod_mpm_event.so")):
        raise Failure("Apache's modules are not in %s (no mod_mpm_event.so): install apache2 or name the directory "
                      "with --modules-directory" % directory)
    return os.path.abspath(directory)


def _module_so():
    path = where()
    if not os.path.isfile(path):
        raise Failure("the Apache module of mod_wsgi-rs is missing (%s): reinstall the package "
                      "(pip install --force-reinstall path/to/mod_wsgi-rs)" % path)
    return path


_IMPORT_CHECK = r"""
import importlib.util, sys
name = sys.argv[1]
try:
    spec = importlib.util.find_spec(name)
except BaseException as e:
    print("%s: %s" % (type(e).__name__, e))
    raise SystemExit(1)
if spec is None:
    print("No module named %r" % name)
    raise SystemExit(1)
print(spec.origin or "")
"""


def _module_origin(name, working_directory, python_paths):
    """The file of module `name` as the daemon will find it; Failure if none."""
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", name):
        raise UsageError("%r is not a module name (with --application-type module, give one like mysite.wsgi)" % name)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([working_directory] + python_paths)
    env.pop("PYTHONHOME", None)
    try:
        result = subprocess.run([sys.executable, "-c", _IMPORT_CHECK, name], cwd=working_directory, env=env,
                                capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise Failure("looking for module %r took over 120 s" % name) from None
    lines = result.stdout.strip().splitlines() or result.stderr.strip().splitlines() or ["?"]
    if result.returncode != 0:
        raise Failure("cannot import module %r (%s): check its name, --python-path and --working-directory (%s)"
                      % (name, lines[-1], working_directory))
    return lines[-1] or None


def _check_port_free(host, port, option):
    family = socket.AF_INET6 if host and ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    where_ = "on %s" % host if host else "on this machine"
    try:
        sock.bind((host or "", port))
    except socket.gaierror as e:
        raise Failure("--host %s: %s" % (host, e.strerror)) from None
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise Failure("port %d %s is already in use: stop what listens there or choose another port with %s"
                          % (port, where_, option)) from None
        if e.errno == errno.EADDRNOTAVAIL:
            raise Failure("--host %s: no interface of this machine has that address" % host) from None
        if e.errno == errno.EACCES:
            raise Failure("port %d needs root (ports below 1024 are privileged): choose another with %s"
                          % (port, option)) from None
        raise Failure("cannot listen on port %d %s: %s" % (port, where_, e.strerror)) from None
    finally:
        sock.close()


def _running_pid(server_root, conf):
    """The pid of an Apache started from this server root, if it runs."""
    try:
        with open(os.path.join(server_root, "httpd.pid")) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if conf in cmdline else None


def _locale():
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(name)
        if value:
            break
    if not value or value.split(".")[0] in ("C", "POSIX"):
        return "C.UTF-8"
    return value


# ---------------------------------------------------------------------------
# The server root.


def quote(value):
    """A word of Apache configuration (ap_getword_conf unescapes it)."""
    value = str(value)
    if any(c in value for c in "\r\n\0"):
        raise UsageError("%r contains a line break" % value)
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


class Server:
    """Everything the generated configuration needs, checked."""


def setup_server(options, command):
    """Checks the options, writes the server root; returns a Server."""
    s = Server()
    s.command = command
    s.options = options
    s.account = _account(options)
    s.httpd = _httpd(options)
    s.modules = _modules_directory(options)
    s.module_so = _module_so()
    s.python_home = os.path.normpath(sys.prefix)
    s.uid = os.getuid()

    if options.log_level:
        for word in options.log_level.split():
            level = word.rsplit(":", 1)[-1]
            if level not in LOG_LEVELS or not re.fullmatch(r"([a-z_]+:)?[a-z0-9]+", word):
                raise UsageError("--log-level %r: use one of %s (or module:level)" % (options.log_level,
                                                                                       ", ".join(LOG_LEVELS)))
    s.host = options.host
    if s.host is not None and not re.fullmatch(r"[\w.:-]+", s.host):
        raise UsageError("--host %r is not an address or host name" % s.host)
    s.server_name = options.host or "localhost"
    s.port = options.port
    s.https_port = options.https_port
    if s.https_port is not None and s.https_port == s.port:
        raise UsageError("--https-port %d is also the HTTP port: choose another" % s.https_port)
    s.url = "http://%s:%d/" % (s.server_name if ":" not in s.server_name else "[%s]" % s.server_name, s.port)
    s.https_url = None
    s.cert = s.key = None
    cert, key = options.ssl_certificate_file, options.ssl_certificate_key_file
    if options.ssl_certificate:
        cert = cert or options.ssl_certificate + ".crt"
        key = key or options.ssl_certificate + ".key"
    if s.https_port is not None:
        if not cert or not key:
            raise UsageError("--https-port needs --ssl-certificate-file and --ssl-certificate-key-file")
        for option, path in (("--ssl-certificate-file", cert), ("--ssl-certificate-key-file", key)):
            if not os.path.isfile(path):
                raise Failure("%s %s: no such file" % (option, path))
        s.cert, s.key = os.path.abspath(cert), os.path.abspath(key)
        s.https_url = s.url.replace("http://", "https://").replace(":%d/" % s.port, ":%d/" % s.https_port)
    elif cert or key:
        raise UsageError("an SSL certificate is used only with --https-port: give the port too")

    s.group_name = "%s:%d" % (s.server_name, s.port)
    s.display_name = "(wsgi:%s:%d:%d)" % (s.server_name, s.port, s.uid)
    s.processes = options.processes
    s.threads = options.threads
    s.locale = _locale()

    s.working_directory = os.path.abspath(options.working_directory or os.getcwd())
    if not os.path.isdir(s.working_directory):
        raise Failure("--working-directory %s: no such directory" % s.working_directory)
    s.python_paths = []
    for path in options.python_paths:
        if not os.path.exists(path):
            raise Failure("--python-path %s: no such directory" % path)
        s.python_paths.append(os.path.abspath(path))
    for path in [s.working_directory] + s.python_paths:
        if ":" in path:
            raise UsageError("%s: a directory on the Python path cannot contain ':'" % path)

    s.application_type = options.application_type
    s.callable_object = options.callable_object
    if not re.fullmatch(r"[A-Za-z_]\w*", s.callable_object or ""):
        raise UsageError("--callable-object %r is not a Python name" % s.callable_object)
    if not options.entry_point:
        raise UsageError("name the WSGI script to serve, as in: %s %s app.wsgi" % (PROG, command))
    if s.application_type == "script":
        s.script = os.path.abspath(options.entry_point)
        if not os.path.isfile(s.script):
            raise Failure("WSGI script %s not found (%s): give the file that defines the WSGI application"
                          % (options.entry_point, s.script))
        s.module = None
        s.module_file = None
    else:
        s.module = options.entry_point
        s.module_file = _module_origin(s.module, s.working_directory, s.python_paths)
        s.script = None

    s.url_aliases = []
    for url, target in options.url_aliases:
        if not url.startswith("/"):
            raise UsageError("--url-alias %s %s: the URL path must start with /" % (url, target))
        path = os.path.abspath(target)
        if not os.path.exists(path):
            raise Failure("--url-alias %s %s: no such file or directory" % (url, target))
        if os.path.isdir(path) and url.endswith("/") and url != "/":
            # Alias appends what follows the URL path to the directory.
            path += "/"
        s.url_aliases.append((url, path))
    s.include_files = []
    for path in options.include_files:
        if not os.path.isfile(path):
            raise Failure("--include-file %s: no such file" % path)
        s.include_files.append(os.path.abspath(path))

    s.server_root = os.path.abspath(
        options.server_root or "/tmp/mod_wsgi-%s:%d:%d" % (s.server_name, s.port, s.uid)
    )
    s.conf = os.path.join(s.server_root, "httpd.conf")
    if os.path.isdir(s.server_root) and os.listdir(s.server_root) and not os.path.isfile(s.conf):
        raise Failure("--server-root %s is a directory mod_wsgi-express did not make (it has no httpd.conf): "
                      "choose a new or empty one" % s.server_root)
    if os.path.exists(s.server_root) and not os.path.isdir(s.server_root):
        raise Failure("--server-root %s is not a directory" % s.server_root)
    s.document_root = os.path.abspath(options.document_root or os.path.join(s.server_root, "htdocs"))
    if options.document_root and not os.path.isdir(s.document_root):
        raise Failure("--document-root %s: no such directory" % options.document_root)
    s.log_to_terminal = options.log_to_terminal
    s.error_log = "/dev/stderr" if s.log_to_terminal else os.path.join(s.server_root, "error_log")
    s.access_log = None
    if options.access_log:
        s.access_log = "/dev/stdout" if s.log_to_terminal else os.path.join(s.server_root, "access_log")
    s.pid_file = os.path.join(s.server_root, "httpd.pid")
    s.apachectl = os.path.join(s.server_root, "apachectl")
    s.reload_on_changes = options.reload_on_changes
    s.server_status = options.server_status

    if s.account is not None:
        # Apache's processes (not root) read the application, the virtual
        # environment and the server root.
        _check_readable(s.module_so, "the module", s.account)
        _check_readable(s.python_home, "the virtual environment", s.account)
        if s.script:
            _check_readable(s.script, "the WSGI script", s.account)
        if s.module_file:
            _check_readable(s.module_file, "the module file", s.account)
        _check_readable(s.working_directory, "--working-directory", s.account)
        for path in s.python_paths:
            _check_readable(path, "--python-path", s.account)
        for _, path in s.url_aliases:
            _check_readable(path, "--url-alias", s.account)
        if options.document_root:
            _check_readable(s.document_root, "--document-root", s.account)
        parent = os.path.dirname(s.server_root)
        while not os.path.exists(parent):
            parent = os.path.dirname(parent)
        _check_readable(parent, "--server-root's directory", s.account)

    _write_server_root(s)
    return s


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _write_server_root(s):
    os.makedirs(s.server_root, exist_ok=True)
    os.chmod(s.server_root, 0o755)
    if not os.path.exists(s.document_root):
        os.makedirs(s.document_root)
        os.chmod(s.document_root, 0o755)
    s.handler = None
    if s.module:
        s.handler = os.path.join(s.server_root, "handler.wsgi")
        _write(s.handler, HANDLER_SCRIPT % {"module": s.module, "callable": s.callable_object,
                                             "modules": s.reload_on_changes})
    s.monitor = None
    if s.reload_on_changes and not s.module:
        s.monitor = os.path.join(s.server_root, "reloader.wsgi")
        _write(s.monitor, MONITOR_SCRIPT)
    _write(s.conf, apache_config(s))
    _write(s.apachectl, APACHECTL % {"httpd": s.httpd, "conf": s.conf, "lang": s.locale}, 0o755)


HANDLER_SCRIPT = """\
# Generated by mod_wsgi-express (mod_wsgi-rs): the WSGI application of
# module %(module)r, imported in the daemon process. A change to the
# module's file replaces the process (and with --reload-on-changes, a
# change to any module it loaded).
import importlib

import mod_wsgi_rs.reloader

_module = importlib.import_module(%(module)r)
application = getattr(_module, %(callable)r)
mod_wsgi_rs.reloader.start(files=[_module.__file__], modules=%(modules)r)
"""

MONITOR_SCRIPT = """\
# Generated by mod_wsgi-express (mod_wsgi-rs) for --reload-on-changes:
# replaces the daemon process when a Python file it loaded changes.
import mod_wsgi_rs.reloader

mod_wsgi_rs.reloader.start()
"""

APACHECTL = """\
#!/bin/sh
# Generated by mod_wsgi-express (mod_wsgi-rs): starts and stops the Apache
# of this server root.
HTTPD=%(httpd)s
CONF=%(conf)s
LANG='%(lang)s'
LC_ALL='%(lang)s'
export LANG LC_ALL
case "$1" in
start|stop|restart|graceful|graceful-stop)
    exec "$HTTPD" -f "$CONF" -k "$@"
    ;;
configtest)
    exec "$HTTPD" -f "$CONF" -t
    ;;
*)
    echo "usage: $0 start|stop|restart|graceful|graceful-stop|configtest" >&2
    exit 2
    ;;
esac
"""


def _mpm_sizes(processes, threads):
    """Apache's event MPM sized for the daemon threads (as mod_wsgi-express)."""
    max_clients = 10 + max(10, int(1.5 * processes * threads))
    per_child = int(max_clients / (int(max_clients / 20) + 1)) if max_clients > 20 else 10
    servers = -(-max_clients // per_child)
    return {
        "ServerLimit": servers,
        "ThreadLimit": per_child,
        "ThreadsPerChild": per_child,
        "StartServers": max(1, int(0.2 * servers)),
        "MaxRequestWorkers": servers * per_child,
        "MinSpareThreads": per_child,
        "MaxSpareThreads": max(2 * per_child, int(0.6 * servers) * per_child),
        "MaxConnectionsPerChild": 0,
    }


def apache_config(s):
    lines = []
    add = lines.append

    def load(name, filename=None):
        add("<IfModule !%s_module>" % name)
        add("LoadModule %s_module %s" % (name, quote(os.path.join(s.modules, filename or "mod_%s.so" % name))))
        add("</IfModule>")

    add("# Generated by mod_wsgi-express (mod_wsgi-rs); written again by each")
    add("# %s %s." % (PROG, s.command))
    add("ServerRoot %s" % quote(s.server_root))
    add("ServerName %s" % s.server_name)
    add("PidFile %s" % quote(s.pid_file))
    add("DefaultRuntimeDir %s" % quote(s.server_root))
    add("ServerTokens ProductOnly")
    add("ServerSignature Off")
    if s.account is not None:
        add("User %s" % quote(s.account.user))
        add("Group %s" % quote(s.account.group))
    add("Listen %s" % ("%s:%d" % (_listen_host(s.host), s.port) if s.host else s.port))
    if s.https_port is not None:
        add("Listen %s https" % ("%s:%d" % (_listen_host(s.host), s.https_port) if s.host else s.https_port))
    add("")
    add("<IfModule !mpm_event_module>")
    add("<IfModule !mpm_worker_module>")
    add("<IfModule !mpm_prefork_module>")
    add("LoadModule mpm_event_module %s" % quote(os.path.join(s.modules, "mod_mpm_event.so")))
    add("</IfModule>")
    add("</IfModule>")
    add("</IfModule>")
    for name in ("unixd", "authn_core", "authz_core", "authz_host", "mime", "alias", "dir", "env",
                 "rewrite", "headers", "reqtimeout", "log_config"):
        load(name)
    if s.server_status:
        load("status")
    if s.https_port is not None:
        load("socache_shmcb")
        load("ssl")
    add("LoadModule wsgi_module %s" % quote(s.module_so))
    add("")
    if os.path.isfile("/etc/mime.types"):
        add("TypesConfig /etc/mime.types")
    add("HostnameLookups Off")
    add("Timeout 60")
    add("LimitRequestBody 10485760")
    add("KeepAlive Off")
    add("<IfModule mpm_event_module>")
    for name, value in _mpm_sizes(s.processes or 1, s.threads).items():
        add("%s %d" % (name, value))
    add("</IfModule>")
    add("ErrorLog %s" % quote(s.error_log))
    add("LogLevel %s" % s.options.log_level)
    if s.access_log:
        add('LogFormat "%h %l %u %t \\"%r\\" %>s %b" common')
        add("CustomLog %s common" % quote(s.access_log))
    add("")
    add("<Directory />")
    add("    AllowOverride None")
    add("    Require all denied")
    add("</Directory>")
    add("")
    add("# The application runs in one daemon process group, Python from the")
    add("# virtual environment mod_wsgi-express was run from.")
    add("WSGIPythonHome %s" % quote(s.python_home))
    add("WSGIRestrictEmbedded On")
    add("WSGISocketPrefix %s" % quote(os.path.join(s.server_root, "wsgi")))
    daemon = [
        "WSGIDaemonProcess %s" % quote(s.group_name),
        "display-name=%s" % quote(s.display_name),
        "home=%s" % quote(s.working_directory),
    ]
    if s.processes:
        daemon.append("processes=%d" % s.processes)
    daemon += [
        "threads=%d" % s.threads,
        "maximum-requests=%d" % s.options.maximum_requests,
        "python-path=%s" % quote(":".join([s.working_directory] + s.python_paths)),
        "lang=%s" % quote(s.locale),
        "locale=%s" % quote(s.locale),
        "queue-timeout=45",
        "socket-timeout=60",
        "connect-timeout=15",
        "request-timeout=%d" % s.options.request_timeout,
        "startup-timeout=15",
        "deadlock-timeout=60",
        "graceful-timeout=15",
        "shutdown-timeout=5",
    ]
    add(" \\\n    ".join(daemon))
    add("WSGIPassAuthorization On")
    add("WSGIMapHEADToGET Auto")
    add("")
    add("# Files in the document root are served as they are, other URLs go to")
    add("# the application.")
    add("DocumentRoot %s" % quote(s.document_root))
    add("<Directory %s>" % quote(s.document_root))
    add("    Require all granted")
    add("</Directory>")
    add("RewriteEngine On")
    add('RewriteCond "%{DOCUMENT_ROOT}%{REQUEST_URI}" -f')
    add('RewriteRule "^(/.*)$" "%{DOCUMENT_ROOT}$1" [L]')
    for url, path in sorted(s.url_aliases, reverse=True):
        add("")
        add("Alias %s %s" % (quote(url), quote(path)))
        if os.path.isdir(path):
            add("<Directory %s>" % quote(path))
            add("    Require all granted")
            add("</Directory>")
        else:
            add("<Directory %s>" % quote(os.path.dirname(path)))
            add("<Files %s>" % quote(os.path.basename(path)))
            add("    Require all granted")
            add("</Files>")
            add("</Directory>")
    if s.server_status:
        add("")
        add("ExtendedStatus On")
        add("<Location /server-status>")
        add("    SetHandler server-status")
        add("    Require local")
        add("</Location>")
    add("")
    target = s.handler or s.script
    add("WSGIScriptAlias / %s process-group=%s application-group=%%{GLOBAL} callable-object=%s"
        % (quote(target), quote(s.group_name), "application" if s.handler else s.callable_object))
    add("<Directory %s>" % quote(os.path.dirname(target)))
    add("<Files %s>" % quote(os.path.basename(target)))
    add("    Require all granted")
    add("</Files>")
    add("</Directory>")
    if s.monitor:
        add("WSGIImportScript %s process-group=%s application-group=%%{GLOBAL}"
            % (quote(s.monitor), quote(s.group_name)))
    if s.https_port is not None:
        add("")
        add("<VirtualHost *:%d>" % s.https_port)
        add("    ServerName %s" % s.server_name)
        add("    SSLEngine On")
        add("    SSLCertificateFile %s" % quote(s.cert))
        add("    SSLCertificateKeyFile %s" % quote(s.key))
        add("    RewriteEngine On")
        add("    RewriteOptions Inherit")
        add("</VirtualHost>")
    for path in s.include_files:
        add("Include %s" % quote(path))
    return "\n".join(lines) + "\n"


def _listen_host(host):
    return "[%s]" % host if ":" in host and not host.startswith("[") else host


# ---------------------------------------------------------------------------
# Running Apache.


def _die_with_parent():
    # In the child before exec: Apache gets SIGTERM (a clean stop) if this
    # command dies without stopping it (PR_SET_PDEATHSIG).
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except Exception:
        pass


class _Relay(threading.Thread):
    """Reads Apache's stderr: kept until Apache has started, then echoed."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines = []
        self.passing = False
        self.started_seen = False
        self.lock = threading.Lock()

    def run(self):
        for raw in iter(self.stream.readline, b""):
            line = raw.decode(errors="replace")
            with self.lock:
                if STARTED_MARKER in line:
                    self.started_seen = True
                if self.passing:
                    sys.stderr.write(line)
                    sys.stderr.flush()
                else:
                    self.lines.append(line)

    def pass_through(self):
        with self.lock:
            for line in self.lines:
                sys.stderr.write(line)
            sys.stderr.flush()
            self.passing = True


def _log_since(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _why_not_started(relay, s, offset):
    noise = ("Action 'start' failed", "The Apache error log may have more information")
    lines = [l.strip() for l in relay.lines if l.strip() and not any(n in l for n in noise)]
    reason = None
    for i, line in enumerate(lines):
        if "Syntax error on line" in line and i + 1 < len(lines):
            reason = "%s %s" % (line, lines[i + 1])
            break
    if reason is None and not s.log_to_terminal:
        errors = [l for l in _log_since(s.error_log, offset).splitlines()
                  if re.search(r"\[[\w.]*:(emerg|alert|crit|error)\]", l)]
        if errors:
            reason = re.sub(r"^(\[[^\]]*\] ?)+", "", errors[0]).strip()
    if reason is None and lines:
        reason = lines[0]
    where_ = "" if s.log_to_terminal else " (error log: %s)" % s.error_log
    return "Apache httpd did not start: %s%s" % (reason or "no reason given", where_)


def run_server(s):
    """Runs Apache in the foreground until it stops; the exit status."""
    running = _running_pid(s.server_root, s.conf)
    if running:
        raise Failure("an Apache started from %s still runs (pid %d): stop it (%s stop) or choose another "
                      "--server-root" % (s.server_root, running, s.apachectl))
    _check_port_free(s.host, s.port, "--port")
    if s.https_port is not None:
        _check_port_free(s.host, s.https_port, "--https-port")
    offset = 0
    if not s.log_to_terminal and os.path.exists(s.error_log):
        offset = os.path.getsize(s.error_log)
    env = dict(os.environ, LANG=s.locale, LC_ALL=s.locale)
    sys.stdout.flush()
    proc = subprocess.Popen(
        [s.httpd, "-f", s.conf, "-k", "start", "-DFOREGROUND"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    relay = _Relay(proc.stderr)
    relay.start()
    stops = []

    def forward(signum, frame):
        if signum in (signal.SIGINT, signal.SIGTERM):
            stops.append(signum)
            signum = signal.SIGTERM
        try:
            os.kill(proc.pid, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(signum, forward)

    started = False
    deadline = time.monotonic() + START_TIMEOUT
    while proc.poll() is None and time.monotonic() < deadline and not stops:
        if relay.started_seen or (not s.log_to_terminal and STARTED_MARKER in _log_since(s.error_log, offset)):
            started = True
            break
        time.sleep(0.05)
    if started:
        relay.pass_through()
        print("%s: Apache (pid %d) serves %s; Ctrl-C stops it." % (PROG, proc.pid, s.url), flush=True)
    status = proc.wait()
    relay.join(timeout=2)
    if stops:
        return 0
    if not started:
        raise Failure(_why_not_started(relay, s, offset))
    if status == 0:
        # Stopped by `apachectl stop` (or a signal sent to Apache itself).
        print("%s: Apache stopped." % PROG, flush=True)
        return 0
    raise Failure("Apache exited (status %d)%s" % (status, "" if s.log_to_terminal else "; see " + s.error_log))


def print_summary(s):
    print("Server URL         : %s" % s.url)
    if s.https_url:
        print("Server URL (HTTPS) : %s" % s.https_url)
    if s.options.server_status:
        print("Server Status      : %sserver-status" % s.url)
    print("Server Root        : %s" % s.server_root)
    print("Server Conf        : %s" % s.conf)
    print("Error Log File     : %s" % s.error_log)
    if s.access_log:
        print("Access Log File    : %s" % s.access_log)
    if s.command == "setup-server" or s.options.setup_only:
        print("Control Script     : %s" % s.apachectl)
    print("Locale Setting     : %s" % s.locale)
    sys.stdout.flush()


def start_server(options, command="start-server"):
    """setup-server, then (unless --setup-only) run Apache; the exit status."""
    s = setup_server(options, command)
    print_summary(s)
    if command == "setup-server" or options.setup_only:
        return 0
    return run_server(s)


def _no_arguments(command, argv):
    parser = _Parser(prog="%s %s" % (PROG, command), allow_abbrev=False)
    options, extra = parser.parse_known_args(argv)
    check_extra(extra, parser.prog)


def module_config(argv):
    _no_arguments("module-config", argv)
    print("LoadModule wsgi_module %s" % quote(_module_so()))
    print("WSGIPythonHome %s" % quote(os.path.normpath(sys.prefix)))
    return 0


def module_location(argv):
    _no_arguments("module-location", argv)
    print(_module_so())
    return 0


USAGE = """usage: %s COMMAND [options]

commands:
  start-server SCRIPT   serve a WSGI application with Apache (foreground; Ctrl-C stops it)
  setup-server SCRIPT   write the server root (configuration, apachectl) without starting
  module-config         the LoadModule and WSGIPythonHome lines for an Apache configuration
  module-location       the path of the Apache module

%s COMMAND --help lists a command's options.
""" % (PROG, PROG)


def _main(argv):
    if not argv:
        raise UsageError("no command: use one of %s (see: %s --help)" % (", ".join(COMMANDS), PROG))
    if argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command in ("start-server", "setup-server"):
        return start_server(parse_server_options(command, rest), command)
    if command == "module-config":
        return module_config(rest)
    if command == "module-location":
        return module_location(rest)
    if command == "install-module":
        raise UsageError("install-module is not supported by mod_wsgi-rs: load the module where pip put it "
                         "(see: %s module-config) or install the Debian package" % PROG)
    raise UsageError("unknown command %r: use one of %s" % (command, ", ".join(COMMANDS)))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _main(argv)
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 2
    except Failure as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
