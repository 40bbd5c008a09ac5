#!/usr/bin/env bash
# Builds the module, installs what the benchmark needs (Debian's mod_wsgi,
# wrk, the peers' Apache module, and gunicorn, uWSGI and Granian at pinned
# versions in a venv of /usr/bin/python3.11 under target/bench-venv) and
# runs benches/bench.py (arguments are passed on). Not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh bench
cargo build --release
venv=target/bench-venv
peers=(gunicorn==27.0.1 uwsgi==2.0.31 granian==2.8.9)
[ -x "$venv/bin/python" ] || /usr/bin/python3.11 -m venv "$venv"
installed="$("$venv/bin/pip" freeze | grep -cixF "${peers[@]/#/-e}" || true)"
if [ "$installed" -ne ${#peers[@]} ]; then
  echo "run.sh: installing ${peers[*]} into $venv (uWSGI compiles: a few minutes)"
  "$venv/bin/pip" install -q "${peers[@]}"
fi
exec python3 benches/bench.py "$@"
