#!/usr/bin/env python3
"""Benchmarks mod_wsgi-rs against Debian's mod_wsgi in the same run.

Same Apache configuration for both (mpm_event, 2 children x 32 threads,
keep-alive, EnableSendfile Off, no access log, 127.0.0.1 only), alternating
modules round by round; Apache serving static files of the same sizes, on
each server in each round, is the ceiling. Reports req/s, p50/p99 latency
and daemon peak RSS, medians of the rounds, and the ratios ours/mod_wsgi and
x/static, each the median of the rounds' own ratios (the machine's speed
drifts between rounds more than between neighbouring runs).

    benches/run.sh [--rounds 2] [--duration 10] [--only hello,stream]
"""

import argparse
import json
import os
import re
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
    "file.wsgi": """
import os
PATH = os.path.join(os.path.dirname(__file__), '..', 'htdocs', 'big.bin')
def application(environ, start_response):
    f = open(PATH, 'rb')
    start_response('200 OK', [('Content-Type', 'application/octet-stream'), ('Content-Length', str(os.path.getsize(PATH)))])
    return environ['wsgi.file_wrapper'](f, 65536)
""",
    "echo.wsgi": """
def application(environ, start_response):
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Type', 'application/octet-stream'), ('Content-Length', str(len(body)))])
    return [body]
""",
}

# name, url, static equivalent, wrk connections
SCENARIOS = [
    ("hello", "/APP/hello", "/hello.txt", 32),
    ("stream", "/APP/stream", "/big.bin", 8),
    ("file_wrapper", "/APP/file", "/big.bin", 8),
    ("post_echo", "/APP/echo", None, 8),
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


def config(root, port, module_path):
    user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
    mods = ["mpm_event", "authz_core", "mime", "alias"]
    loads = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in mods)
    return f"""
ServerRoot {root}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error_log
DefaultRuntimeDir {root}
LogLevel warn
TypesConfig /etc/mime.types
{user}
{loads}
LoadModule wsgi_module {module_path}
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
DocumentRoot {root}/htdocs
<Directory {root}>
    Require all granted
</Directory>
WSGIScriptAlias /embedded/hello {root}/apps/hello.wsgi
WSGIScriptAlias /embedded/stream {root}/apps/stream.wsgi
WSGIScriptAlias /embedded/file {root}/apps/file.wsgi
WSGIScriptAlias /embedded/echo {root}/apps/echo.wsgi
WSGIDaemonProcess bench processes=2 threads=15 display-name=%{{GROUP}}
WSGIScriptAlias /daemon/hello {root}/apps/hello.wsgi process-group=bench application-group=%{{GLOBAL}}
WSGIScriptAlias /daemon/stream {root}/apps/stream.wsgi process-group=bench application-group=%{{GLOBAL}}
WSGIScriptAlias /daemon/file {root}/apps/file.wsgi process-group=bench application-group=%{{GLOBAL}}
WSGIScriptAlias /daemon/echo {root}/apps/echo.wsgi process-group=bench application-group=%{{GLOBAL}}
"""


class Server:
    def __init__(self, module_path):
        self.root = tempfile.mkdtemp(prefix="mod_wsgi_rs-bench-")
        os.chmod(self.root, 0o755)
        for d in ("apps", "htdocs"):
            os.makedirs(os.path.join(self.root, d), mode=0o755)
        for name, src in APPS.items():
            with open(os.path.join(self.root, "apps", name), "w") as f:
                f.write(src)
        with open(os.path.join(self.root, "htdocs", "hello.txt"), "wb") as f:
            f.write(b"Hello World!")
        with open(os.path.join(self.root, "htdocs", "big.bin"), "wb") as f:
            f.write(os.urandom(10 * MIB))
        subprocess.run(["chmod", "-R", "a+rX", self.root], check=True)
        self.port = free_port()
        self.conf = os.path.join(self.root, "httpd.conf")
        with open(self.conf, "w") as f:
            f.write(config(self.root, self.port, module_path))
        subprocess.run(["/usr/sbin/apache2", "-f", self.conf, "-k", "start"], check=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)  # let daemon processes start

    def daemon_pids(self):
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[0].startswith(b"(wsgi:bench)"):
                        pids.append(int(pid))
            except OSError:
                pass
        return pids

    def peak_rss_mib(self):
        peaks = []
        for pid in self.daemon_pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
                    peaks.append(int(m.group(1)) / 1024)
            except (OSError, AttributeError):
                pass
        return max(peaks) if peaks else None

    def errors(self):
        with open(os.path.join(self.root, "error_log"), errors="replace") as f:
            return [l for l in f if "[wsgi:error]" in l or "exit signal" in l]

    def stop(self):
        subprocess.run(["/usr/sbin/apache2", "-f", self.conf, "-k", "stop"], check=False)
        deadline = time.time() + 15
        pidfile = os.path.join(self.root, "httpd.pid")
        while os.path.exists(pidfile) and time.time() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)


def unit(value, suffix):
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3, "": 1.0, "k": 1e3, "M": 1e6}
    return float(value) * scale.get(suffix, 1.0)


def wrk(url, connections, duration, lua=None):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if lua:
        cmd[1:1] = ["-s", lua]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict((p, unit(v, u)) for p, v, u in re.findall(r"\s(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failures = (int(bad.group(1)) if bad else 0) + (sum(map(int, errs.groups())) if errs else 0)
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"), "failures": failures}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    lua_dir = tempfile.mkdtemp(prefix="mod_wsgi_rs-bench-lua-")
    try:
        run(args, only, os.path.join(lua_dir, "post.lua"))
    finally:
        shutil.rmtree(lua_dir, ignore_errors=True)


def run(args, only, lua):
    with open(lua, "w") as f:
        f.write(POST_LUA)

    results = {}  # (scenario, mode, module) -> list of runs
    rss = {"ours": [], "mod_wsgi": []}
    hello_rss = {"ours": [], "mod_wsgi": []}
    for rnd in range(args.rounds):
        order = [("ours", OURS), ("mod_wsgi", DEBIAN)]
        if rnd % 2:
            order.reverse()
        for label, path in order:
            server = Server(path)
            try:
                base = f"http://127.0.0.1:{server.port}"
                for name, url, static, conns in SCENARIOS:
                    if only and name not in only:
                        continue
                    post = lua if name == "post_echo" else None
                    for mode in ("embedded", "daemon"):
                        r = wrk(base + url.replace("APP", mode), conns, args.duration, post)
                        results.setdefault((name, mode, label), []).append(r)
                        print(f"round {rnd + 1} {label:8} {name:12} {mode:8} {r['rps']:10.1f} req/s  p50 {r['p50']} ms  p99 {r['p99']} ms  failures {r['failures']}", flush=True)
                    if name == "hello":
                        # The goal is about the hello app: peak so far, before larger bodies.
                        peak = server.peak_rss_mib()
                        if peak:
                            hello_rss[label].append(peak)
                    if static:
                        # On this server, in this round: the ratios are
                        # taken per round, so a slower round for the whole
                        # machine does not skew them.
                        r = wrk(base + static, conns, args.duration)
                        results.setdefault((name, "static", label), []).append(r)
                        print(f"round {rnd + 1} {'static':8} {name:12} {label:8} {r['rps']:10.1f} req/s", flush=True)
                peak = server.peak_rss_mib()
                if peak:
                    rss[label].append(peak)
                errs = server.errors()
                if errs:
                    print(f"{label}: {len(errs)} error-log lines, first: {errs[0].strip()}", flush=True)
            finally:
                server.stop()

    def med(key, field="rps"):
        runs = results.get(key)
        vals = [r[field] for r in runs or [] if r[field] is not None]
        return statistics.median(vals) if vals else None

    def ratio(a, b):
        """Median over the rounds of a/b, each round's a over its own b."""
        xs, ys = results.get(a) or [], results.get(b) or []
        vals = [x["rps"] / y["rps"] for x, y in zip(xs, ys) if y["rps"]]
        return statistics.median(vals) if vals else None

    print("\nmedians over", args.rounds, "rounds (req/s; ratios are medians of each round's ratio)")
    print(f"{'scenario':14}{'mode':10}{'ours':>10}{'mod_wsgi':>10}{'static':>10}{'ours/mw':>9}{'ours/st':>9}{'mw/st':>8}{'p50':>8}{'p99':>8}{'fail':>6}{'fail mw':>8}")
    table = []
    for name, _, static, _ in SCENARIOS:
        for mode in ("embedded", "daemon"):
            o, m = med((name, mode, "ours")), med((name, mode, "mod_wsgi"))
            s = med((name, "static", "ours"))
            if o is None:
                continue
            fails = sum(r["failures"] for r in results.get((name, mode, "ours"), []))
            fails_mw = sum(r["failures"] for r in results.get((name, mode, "mod_wsgi"), []))
            row = {
                "scenario": name, "mode": mode, "ours": o, "mod_wsgi": m, "static": s,
                "ours_vs_mod_wsgi": ratio((name, mode, "ours"), (name, mode, "mod_wsgi")),
                "ours_vs_static": ratio((name, mode, "ours"), (name, "static", "ours")),
                "mod_wsgi_vs_static": ratio((name, mode, "mod_wsgi"), (name, "static", "mod_wsgi")),
                "p50_ms": med((name, mode, "ours"), "p50"), "p99_ms": med((name, mode, "ours"), "p99"),
                "failures": fails, "failures_mod_wsgi": fails_mw,
            }
            table.append(row)
            # A missing figure keeps its column's width.
            f = lambda v, fmt: (fmt % v) if v is not None else "-".rjust(int(fmt[1:].split(".")[0]))
            print(f"{name:14}{mode:10}{f(o, '%10.0f')}{f(m, '%10.0f')}{f(s, '%10.0f')}{f(row['ours_vs_mod_wsgi'], '%9.2f')}{f(row['ours_vs_static'], '%9.2f')}{f(row['mod_wsgi_vs_static'], '%8.2f')}{f(row['p50_ms'], '%8.2f')}{f(row['p99_ms'], '%8.2f')}{fails:6d}{fails_mw:8d}")
    peak = {k: (max(v) if v else None) for k, v in rss.items()}
    hello_peak = {k: (max(v) if v else None) for k, v in hello_rss.items()}
    print(f"\ndaemon process peak RSS (MiB), hello app: ours {hello_peak['ours']}, mod_wsgi {hello_peak['mod_wsgi']}")
    print(f"daemon process peak RSS (MiB), all scenarios: ours {peak['ours']}, mod_wsgi {peak['mod_wsgi']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"table": table, "peak_rss_mib": peak, "hello_peak_rss_mib": hello_peak, "rounds": args.rounds, "duration": args.duration}, f, indent=2)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
