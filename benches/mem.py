#!/usr/bin/env python3
"""Memory of each process of the benchmark's server after one wrk run.

Starts the server of benches/bench.py (ours with the build given, or
Debian's mod_wsgi), runs wrk on one URL path (8 connections, 5 s; /APP/echo
paths get the benchmark's 1 MiB POST body), then prints each Apache child's
and daemon process's /proc/PID/status figures in MiB: VmHWM (the peak),
VmRSS, RssAnon, RssFile, RssShmem.

    benches/mem.py ours /daemon/echo target/release/libmod_wsgi.so
    benches/mem.py debian /daemon/echo
"""

import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

FIELDS = ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem")


def figures(pid):
    with open(f"/proc/{pid}/status") as f:
        found = dict(re.findall(r"(\w+):\s+(\d+) kB", f.read()))
    return "  ".join(f"{k} {int(found.get(k, 0)) / 1024:5.1f}" for k in FIELDS)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("ours", "debian") or (sys.argv[1] == "ours") != (len(sys.argv) == 4):
        sys.exit(__doc__)
    kind, path = sys.argv[1], sys.argv[2]
    server = bench.Ours(os.path.abspath(sys.argv[3])) if kind == "ours" else bench.DebianModWsgi()
    lua_dir = tempfile.mkdtemp(prefix="mod_wsgi_rs-mem-")
    lua = os.path.join(lua_dir, "post.lua")
    with open(lua, "w") as f:
        f.write(bench.POST_LUA)
    try:
        r = bench.wrk(f"http://127.0.0.1:{server.port}{path}", 8, 5, lua if path.endswith("/echo") else None)
        print(f"{kind} {path}: {r['rps']:.1f} req/s, failures {r['failures']}")
        with open(os.path.join(server.root, "httpd.pid")) as f:
            ours = set(bench.descendants(int(f.read())))
        for pid in server.apache_pids():
            print(f"  apache {pid:7} {bench.title(pid)[:24].decode(errors='replace'):24} {figures(pid)}")
        for pid in sorted(set(server.daemon_pids()) & ours):
            print(f"  daemon {pid:7} {'':24} {figures(pid)}")
    finally:
        server.stop()
        os.remove(lua)
        os.rmdir(lua_dir)


if __name__ == "__main__":
    main()
