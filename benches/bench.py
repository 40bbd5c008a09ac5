#!/usr/bin/env python3
"""Benchmarks mod_wsgi-rs against Debian's mod_wsgi 4.9.4, gunicorn, uWSGI
and Granian in the same run.

Every server is the same Apache (mpm_event, 2 children x 32 threads,
keep-alive, EnableSendfile Off, no access log, 127.0.0.1 only):
- ours and Debian's mod_wsgi host the apps embedded (in the Apache children)
  and in a daemon group (processes=2 threads=15), one Apache for both modes;
- each peer runs beside it on a UNIX socket, 2 processes x 15 threads,
  reached through mod_proxy (mod_proxy_http; mod_proxy_uwsgi for uWSGI).
All run the same app files. The order of the servers alternates round by
round; Apache serving a static file of the same size, on the same server in
the same round, is the ceiling.

Reported per server and app, medians of the rounds: req/s, p50/p99 latency,
the ratio to static (median of each round's own ratio: the machine's speed
drifts between rounds more than between neighbouring runs), and peak RSS
(VmHWM, reset through /proc/PID/clear_refs when the row starts, so it is the
peak during that row on top of what earlier rows left resident; without
root the reset is refused and it is the peak since the process started):
- "app": the processes that run the app outside Apache: our or mod_wsgi's
  daemon processes (daemon rows), every process of the peer (peer rows);
  none in embedded rows, where the Apache children run it;
- "apache": every descendant of the Apache parent (children and, for ours,
  the daemon group's manager) except the daemon processes counted as app.
Each is shown as largest process / sum over the processes. And the CPU time
per request (user + system, from /proc/PID/stat and wrk's rusage) of the
Apache processes, the app processes and wrk: on a machine whose cores are
all busy, req/s is bounded by the cores over their sum, static rows included.

Fails (exit 1) if a request failed (wrk socket error or non-2xx) or if one
of our daemon processes was replaced during a measurement.

    benches/run.sh [--rounds 2] [--duration 10] [--only hello,stream]
                   [--servers ours,mod_wsgi,gunicorn,uwsgi,granian] [--json FILE]
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = os.path.join(ROOT, "target", "release", "libmod_wsgi.so")
DEBIAN = "/usr/lib/apache2/modules/mod_wsgi.so"
MODULES = "/usr/lib/apache2/modules"
VENV_BIN = os.environ.get("BENCH_VENV", os.path.join(ROOT, "target", "bench-venv")) + "/bin"
MIB = 1024 * 1024

APPS = {
    "hello.wsgi": """
def application(environ, start_response):
    body = b'Hello World!'
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
""",
    "stream.wsgi": """
CHUNK = b'x' * 65536
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/octet-stream'), ('Content-Length', str(160 * 65536))])
    for _ in range(160):
        yield CHUNK
""",
    # Read in Python where the server has no wsgi.file_wrapper (Granian), as PEP 3333 has it.
    "file.wsgi": """
import os
PATH = os.path.join(os.path.dirname(__file__), '..', 'htdocs', 'big.bin')
def blocks(f):
    with f:
        while block := f.read(65536):
            yield block
def application(environ, start_response):
    f = open(PATH, 'rb')
    start_response('200 OK', [('Content-Type', 'application/octet-stream'), ('Content-Length', str(os.path.getsize(PATH)))])
    wrapper = environ.get('wsgi.file_wrapper')
    return wrapper(f, 65536) if wrapper else blocks(f)
""",
    "echo.wsgi": """
def application(environ, start_response):
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Type', 'application/octet-stream'), ('Content-Length', str(len(body)))])
    return [body]
""",
    # The peers serve one WSGI callable: this one hands each request to the
    # app file named by the last part of its path.
    "peer_app.py": """
import os, runpy
HERE = os.path.dirname(os.path.abspath(__file__))
APPS = {n: runpy.run_path(os.path.join(HERE, n + '.wsgi'))['application'] for n in ('hello', 'stream', 'file', 'echo')}
def application(environ, start_response):
    return APPS[environ['PATH_INFO'].rsplit('/', 1)[-1]](environ, start_response)
""",
}

# name, app path (under a mode's prefix), static equivalent, wrk connections
SCENARIOS = [
    ("hello", "/hello", "/hello.txt", 32),
    ("stream", "/stream", "/big.bin", 8),
    ("file_wrapper", "/file", "/big.bin", 8),
    ("post_echo", "/echo", None, 8),
]

POST_LUA = """
wrk.method = "POST"
wrk.body = string.rep("p", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of():
    """ppid -> [pid] for every process."""
    tree = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                # The name, in parentheses, may hold spaces: split after it.
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(pid))
    return tree


def descendants(pid):
    tree, found, todo = children_of(), [], [pid]
    while todo:
        kids = tree.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def title(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0]
    except OSError:
        return b""


def reset_peak(pids):
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")  # VmHWM := current RSS
        except OSError:
            pass


def peak_rss(pids):
    """(largest, sum) of VmHWM in MiB, or None without processes."""
    peaks = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
        except OSError:
            continue
        if m:
            peaks.append(int(m.group(1)) / 1024)
    return (max(peaks), sum(peaks)) if peaks else None


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """(user, system) CPU seconds the processes have used, threads included."""
    user = system = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user, system = user + int(fields[11]), system + int(fields[12])
    return user / TICKS, system / TICKS


def children_cpu():
    """(user, system) CPU seconds of this script's finished children (wrk)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime, r.ru_stime


class Apache:
    """An Apache on a free port with the apps and static files in a fresh
    server root. Subclasses add their directives and their URL prefixes."""

    MODULES = ["mpm_event", "authz_core", "mime", "alias"]

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="mod_wsgi_rs-bench-")
        os.chmod(self.root, 0o755)
        for d in ("apps", "htdocs", "run"):
            os.makedirs(os.path.join(self.root, d), mode=0o755)
        for name, src in APPS.items():
            with open(os.path.join(self.root, "apps", name), "w") as f:
                f.write(src)
        with open(os.path.join(self.root, "htdocs", "hello.txt"), "wb") as f:
            f.write(b"Hello World!")
        with open(os.path.join(self.root, "htdocs", "big.bin"), "wb") as f:
            f.write(os.urandom(10 * MIB))
        subprocess.run(["chmod", "-R", "a+rX", self.root], check=True)
        if os.geteuid() == 0:
            shutil.chown(os.path.join(self.root, "run"), "www-data", "www-data")
        self.port = free_port()
        self.conf = os.path.join(self.root, "httpd.conf")
        with open(self.conf, "w") as f:
            f.write(self.config())
        try:
            self.before_start()
            subprocess.run(["/usr/sbin/apache2", "-f", self.conf, "-k", "start"], check=True)
            wait_for(lambda: socket.create_connection(("127.0.0.1", self.port), 0.2).close())
        except BaseException:
            self.stop()
            raise
        time.sleep(1.0)  # let daemon processes start

    def config(self):
        user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
        loads = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in self.modules())
        return f"""
ServerRoot {self.root}
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
PidFile {self.root}/httpd.pid
ErrorLog {self.root}/error_log
DefaultRuntimeDir {self.root}
LogLevel warn
TypesConfig /etc/mime.types
{user}
{loads}
StartServers 2
ServerLimit 2
ThreadsPerChild 32
MaxRequestWorkers 64
MinSpareThreads 64
MaxSpareThreads 64
MaxRequestsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
EnableSendfile Off
LimitRequestBody 0
DocumentRoot {self.root}/htdocs
<Directory {self.root}>
    Require all granted
</Directory>
"""

    def modules(self):
        return self.MODULES

    def before_start(self):
        pass

    def app_pids(self, mode):
        """The processes outside Apache that run the app in this mode."""
        return []

    def daemon_pids(self):
        """The Apache parent's descendants that run apps (counted as app side)."""
        return []

    def checked_pids(self):
        """Processes that must not be replaced during a measurement."""
        return set()

    def apache_pids(self):
        with open(os.path.join(self.root, "httpd.pid")) as f:
            parent = int(f.read())
        daemons = set(self.daemon_pids())
        return [p for p in descendants(parent) if p not in daemons]

    def errors(self):
        with open(os.path.join(self.root, "error_log"), errors="replace") as f:
            return [l for l in f if "[wsgi:" in l or "[proxy" in l or "exit signal" in l]

    def stop(self):
        subprocess.run(["/usr/sbin/apache2", "-f", self.conf, "-k", "stop"], check=False)
        pidfile = os.path.join(self.root, "httpd.pid")
        deadline = time.time() + 15
        while os.path.exists(pidfile) and time.time() < deadline:
            time.sleep(0.1)
        self.after_stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def after_stop(self):
        pass


def wait_for(probe, seconds=20):
    deadline = time.time() + seconds
    while True:
        try:
            return probe()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


class ModWsgi(Apache):
    """A mod_wsgi module (ours or Debian's): the apps embedded under
    /embedded and in a daemon group under /daemon, in one Apache."""

    MODES = [("embedded", "/embedded"), ("daemon", "/daemon")]  # (row label, URL prefix of the apps)

    def __init__(self, module_path):
        self.module_path = module_path
        super().__init__()

    def config(self):
        root = self.root
        lines = [f"LoadModule wsgi_module {self.module_path}",
                 "WSGIDaemonProcess bench processes=2 threads=15 display-name=%{GROUP}"]
        for _, path, _, _ in SCENARIOS:
            app = f"{root}/apps/{path[1:]}.wsgi"
            lines.append(f"WSGIScriptAlias /embedded{path} {app}")
            lines.append(f"WSGIScriptAlias /daemon{path} {app} process-group=bench application-group=%{{GLOBAL}}")
        return super().config() + "\n".join(lines) + "\n"

    def daemon_pids(self):
        return [int(p) for p in filter(str.isdigit, os.listdir("/proc")) if title(p).startswith(b"(wsgi:bench)")]

    def app_pids(self, mode):
        return self.daemon_pids() if mode == "daemon" else []


class Ours(ModWsgi):
    def __init__(self, module_path=OURS):
        super().__init__(module_path)

    def checked_pids(self):
        return set(self.daemon_pids())


class DebianModWsgi(ModWsgi):
    def __init__(self):
        super().__init__(DEBIAN)


class Peer(Apache):
    """A WSGI server on a UNIX socket beside an Apache that proxies /app/ to
    it; the peer runs as the Apache user, and stops with the Apache."""

    MODES = [("", "/app")]
    PROXY = "proxy_http"  # Apache's module for the peer's protocol
    SCHEME = "http"

    def command(self, sock):
        raise NotImplementedError

    @property
    def sock(self):
        return os.path.join(self.root, "run", "peer.sock")

    def modules(self):
        return self.MODULES + ["proxy", self.PROXY]

    def config(self):
        return super().config() + f"ProxyPass /app/ unix:{self.sock}|{self.SCHEME}://localhost/\n"

    def before_start(self):
        user = {"user": "www-data", "group": "www-data", "extra_groups": []} if os.geteuid() == 0 else {}
        self.log = open(os.path.join(self.root, "peer.log"), "w")
        apps = os.path.join(self.root, "apps")
        self.process = subprocess.Popen(self.command(self.sock), cwd=apps, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True, **user)

        def probe():
            if self.process.poll() is not None:
                raise RuntimeError(f"{type(self).__name__} exited: see {self.log.name}")
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(self.sock)

        wait_for(probe, 60)
        time.sleep(1.0)  # let every worker start

    def app_pids(self, mode):
        return [self.process.pid] + descendants(self.process.pid)

    def errors(self):
        with open(self.log.name, errors="replace") as f:
            peer = [l for l in f if "error" in l.lower() or "traceback" in l.lower()]
        return super().errors() + peer

    def after_stop(self):
        if not hasattr(self, "process"):
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


class Gunicorn(Peer):
    def command(self, sock):
        return [f"{VENV_BIN}/gunicorn", "--worker-class", "gthread", "--workers", "2", "--threads", "15",
                "--bind", f"unix:{sock}", "peer_app:application"]


class Uwsgi(Peer):
    PROXY = "proxy_uwsgi"
    SCHEME = "uwsgi"

    def command(self, sock):
        return [f"{VENV_BIN}/uwsgi", "--master", "--processes", "2", "--threads", "15", "--socket", sock,
                "--wsgi-file", "peer_app.py", "--disable-logging", "--die-on-term"]


class Granian(Peer):
    def command(self, sock):
        return [f"{VENV_BIN}/granian", "--interface", "wsgi", "--workers", "2", "--blocking-threads", "15",
                "--uds", sock, "peer_app:application"]


SERVERS = {"ours": Ours, "mod_wsgi": DebianModWsgi, "gunicorn": Gunicorn, "uwsgi": Uwsgi, "granian": Granian}


def unit(value, suffix):
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3, "": 1.0, "k": 1e3, "M": 1e6}
    return float(value) * scale.get(suffix, 1.0)


def wrk(url, connections, duration, lua=None):
    # A request still unanswered after 10 s counts as failed.
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency", url]
    if lua:
        cmd[1:1] = ["-s", lua]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    lat = dict((p, unit(v, u)) for p, v, u in re.findall(r"\s(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    kinds = dict(zip(("connect", "read", "write", "timeout"), map(int, errs.groups()))) if errs else {}
    kinds["non-2xx"] = int(bad.group(1)) if bad else 0
    failed = {k: n for k, n in kinds.items() if n}
    return {"rps": rps, "requests": requests, "p50": lat.get("50"), "p99": lat.get("99"),
            "failures": sum(failed.values()), "failed": failed}


def wrk_cpu(url, connections, duration, lua, groups):
    """wrk, plus the CPU time per request (µs, [user, system]) of each group
    of processes ({name: pids}) and of wrk itself: where the machine's two
    cores went, which bounds req/s when they are all busy."""
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    before["wrk"] = children_cpu()
    r = wrk(url, connections, duration, lua)
    after = {name: cpu_seconds(pids) for name, pids in groups.items()}
    after["wrk"] = children_cpu()
    n = max(r["requests"], 1)
    r["cpu_us"] = {name: [(a - b) * 1e6 / n for a, b in zip(after[name], before[name])] for name in after}
    return r


class Bench:
    """The rounds: every selected server once per round, each scenario and
    mode on it, then the table of medians."""

    def __init__(self, args, lua):
        self.args, self.lua = args, lua
        self.only = set(filter(None, args.only.split(",")))
        self.servers = [s for s in args.servers.split(",") if s]
        unknown = set(self.servers) - set(SERVERS)
        if unknown:
            raise SystemExit(f"unknown servers {sorted(unknown)}; known: {', '.join(SERVERS)}")
        self.results = {}  # (row, scenario) -> [run]; row "static" runs are keyed (server, scenario, "static")
        self.problems = []

    def scenarios(self):
        return [s for s in SCENARIOS if not self.only or s[0] in self.only]

    def run(self):
        for rnd in range(self.args.rounds):
            order = self.servers if rnd % 2 == 0 else self.servers[::-1]
            for name in order:
                server = SERVERS[name]()
                try:
                    self.measure(rnd, name, server)
                    for line in server.errors()[:3]:
                        print(f"{name}: error log: {line.strip()}", flush=True)
                finally:
                    server.stop()

    def measure(self, rnd, name, server):
        base = f"http://127.0.0.1:{server.port}"
        for scenario, path, static, conns in self.scenarios():
            post = self.lua if scenario == "post_echo" else None
            for mode, prefix in server.MODES:
                row = f"{name} {mode}".strip()
                app, apache = server.app_pids(mode), server.apache_pids()
                reset_peak(app + apache)
                before = server.checked_pids()
                r = wrk_cpu(base + prefix + path, conns, self.args.duration, post, {"apache": apache, "app": app})
                after = server.checked_pids()
                r["app_rss"], r["apache_rss"] = peak_rss(app), peak_rss(server.apache_pids())
                self.record(rnd, row, scenario, r)
                if before != after:
                    self.problem(f"round {rnd + 1} {row} {scenario}: daemon processes replaced "
                                 f"(before {sorted(before)}, after {sorted(after)})")
            if static:
                r = wrk_cpu(base + static, conns, self.args.duration, None, {"apache": server.apache_pids()})
                self.record(rnd, (name, "static"), scenario, r)

    def record(self, rnd, row, scenario, r):
        self.results.setdefault((row, scenario), []).append(r)
        label = row if isinstance(row, str) else " ".join(row)
        print(f"round {rnd + 1} {label:18} {scenario:12} {r['rps']:10.1f} req/s  p50 {r['p50']} ms  "
              f"p99 {r['p99']} ms  failures {r['failures']}", flush=True)
        if r["failures"]:
            self.problem(f"round {rnd + 1} {label} {scenario}: {r['failures']} failed requests {r['failed']}")

    def problem(self, text):
        self.problems.append(text)
        print(f"FAILURE: {text}", file=sys.stderr, flush=True)

    def median(self, row, scenario, field):
        vals = [r[field] for r in self.results.get((row, scenario), []) if r.get(field) is not None]
        return statistics.median(vals) if vals else None

    def static_ratio(self, row, server, scenario):
        """Median over the rounds of each round's req/s over its static req/s."""
        runs, statics = self.results.get((row, scenario), []), self.results.get(((server, "static"), scenario), [])
        vals = [r["rps"] / s["rps"] for r, s in zip(runs, statics) if s["rps"]]
        return statistics.median(vals) if vals else None

    def table(self):
        rows = []
        for scenario, _, static, _ in self.scenarios():
            for name in self.servers:
                keys = [f"{name} {mode}".strip() for mode, _ in SERVERS[name].MODES]
                for row in keys + ([(name, "static")] if static else []):
                    if (row, scenario) not in self.results:
                        continue
                    med = lambda field: self.median(row, scenario, field)
                    rss = lambda field, i: self.median_rss(row, scenario, field, i)
                    cpu = lambda group: self.median_cpu(row, scenario, group)
                    is_static = isinstance(row, tuple)
                    rows.append({
                        "scenario": scenario, "server": " ".join(row) if is_static else row, "rps": med("rps"),
                        "p50_ms": med("p50"), "p99_ms": med("p99"),
                        "vs_static": None if is_static else self.static_ratio(row, name, scenario),
                        "static_rps": self.median((name, "static"), scenario, "rps"),
                        "app_rss_max_mib": rss("app_rss", 0), "app_rss_sum_mib": rss("app_rss", 1),
                        "apache_rss_max_mib": rss("apache_rss", 0), "apache_rss_sum_mib": rss("apache_rss", 1),
                        "cpu_apache_us": cpu("apache"), "cpu_app_us": cpu("app"), "cpu_wrk_us": cpu("wrk"),
                        "failures": sum(r["failures"] for r in self.results[(row, scenario)]),
                    })
        return rows

    def median_cpu(self, row, scenario, group):
        """Median over the rounds of a group's CPU µs per request (user + system)."""
        vals = [sum(r["cpu_us"][group]) for r in self.results.get((row, scenario), [])
                if group in r.get("cpu_us", {})]
        return statistics.median(vals) if vals else None

    def median_rss(self, row, scenario, field, i):
        vals = [r[field][i] for r in self.results.get((row, scenario), []) if r.get(field)]
        return statistics.median(vals) if vals else None

    def print_table(self, rows):
        print(f"\nmedians over {self.args.rounds} rounds of {self.args.duration} s; /static: median of each round's "
              "ratio to Apache's static file on the same server\n"
              "RSS: peak MiB during the row, largest process / sum; app = daemon processes or every process "
              "of the peer; apache = every descendant of the Apache parent but those")
        head = ["scenario", "server", "req/s", "p50 ms", "p99 ms", "/static", "app RSS", "apache RSS", "fail",
                "CPU µs/req apache/app/wrk"]
        widths = [13, 18, 9, 8, 8, 8, 12, 13, 5, 27]
        print("".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))

        def f(v, fmt):
            return fmt % v if v is not None else "-"

        for r in rows:
            app = f"{r['app_rss_max_mib']:.1f}/{r['app_rss_sum_mib']:.1f}" if r["app_rss_max_mib"] else "-"
            apache = f"{r['apache_rss_max_mib']:.1f}/{r['apache_rss_sum_mib']:.1f}" if r["apache_rss_max_mib"] else "-"
            cells = [r["scenario"], r["server"], f(r["rps"], "%.0f"), f(r["p50_ms"], "%.2f"), f(r["p99_ms"], "%.2f"),
                     f(r["vs_static"], "%.2f"), app, apache, str(r["failures"]),
                     "/".join(f(r[k], "%.0f") for k in ("cpu_apache_us", "cpu_app_us", "cpu_wrk_us"))]
            print("".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--only", default="", help="scenarios, comma-separated")
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma-separated, of " + ",".join(SERVERS))
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    lua_dir = tempfile.mkdtemp(prefix="mod_wsgi_rs-bench-lua-")
    try:
        lua = os.path.join(lua_dir, "post.lua")
        with open(lua, "w") as f:
            f.write(POST_LUA)
        bench = Bench(args, lua)
        bench.run()
    finally:
        shutil.rmtree(lua_dir, ignore_errors=True)
    rows = bench.table()
    bench.print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            runs = {" ".join(k if isinstance(k, str) else " ".join(k) for k in key): v
                    for key, v in bench.results.items()}
            json.dump({"table": rows, "runs": runs, "rounds": args.rounds, "duration": args.duration,
                       "problems": bench.problems}, f, indent=2)
    for p in bench.problems:
        print(f"FAILURE: {p}", file=sys.stderr)
    return 1 if bench.problems else 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
