#!/usr/bin/env python3
"""A/B of two builds of the module on the benchmark's configuration.

Starts the server of benches/bench.py with each build in turn, alternating
the order round by round, and runs wrk on each URL path; prints the median
req/s of each build, their ratio and the median of each round's ratio, and
the median peak RSS (VmHWM during the path's run) of the largest Apache
child. For before/after figures of one change on a noisy machine (the two
builds meet the same noise).

    cp target/release/libmod_wsgi.so /tmp/before.so    # then change, rebuild
    benches/ab.py /tmp/before.so target/release/libmod_wsgi.so \\
        /embedded/hello,/daemon/hello [--rounds 3] [--connections 32]

/APP/echo paths get the benchmark's 1 MiB POST body.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("paths")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--duration", type=int, default=6)
    args = ap.parse_args()
    builds = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    paths = args.paths.split(",")
    lua_dir = tempfile.mkdtemp(prefix="mod_wsgi_rs-ab-")
    lua = os.path.join(lua_dir, "post.lua")
    with open(lua, "w") as f:
        f.write(bench.POST_LUA)
    rps, rss = {}, {}
    try:
        for rnd in range(args.rounds):
            order = ["before", "after"] if rnd % 2 == 0 else ["after", "before"]
            for label in order:
                server = bench.Ours(builds[label])
                try:
                    for path in paths:
                        bench.reset_peak(server.apache_pids())
                        r = bench.wrk(f"http://127.0.0.1:{server.port}{path}", args.connections, args.duration,
                                      lua if path.endswith("/echo") else None)
                        largest = (bench.peak_rss(server.apache_pids()) or (0, 0))[0]
                        rps.setdefault((path, label), []).append(r["rps"])
                        rss.setdefault((path, label), []).append(largest)
                        print(f"round {rnd + 1} {label:6} {path:20} {r['rps']:10.1f} req/s  failures {r['failures']}"
                              f"  largest Apache child {largest:.1f} MiB", flush=True)
                finally:
                    server.stop()
    finally:
        shutil.rmtree(lua_dir, ignore_errors=True)
    for path in paths:
        befores, afters = rps[(path, "before")], rps[(path, "after")]
        b, a = statistics.median(befores), statistics.median(afters)
        # Each round's ratio is of neighbouring runs, which meet the same
        # machine: their median drifts less than the ratio of medians.
        per_round = statistics.median(x / y for x, y in zip(afters, befores))
        print(f"{path}: before {b:.0f} after {a:.0f} req/s, after/before {a / b:.3f}, "
              f"median of the rounds' ratios {per_round:.3f}; largest Apache child's peak RSS "
              f"{statistics.median(rss[(path, 'before')]):.1f} → {statistics.median(rss[(path, 'after')]):.1f} MiB")


if __name__ == "__main__":
    sys.exit(main())
