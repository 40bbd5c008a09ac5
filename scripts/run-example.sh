#!/usr/bin/env bash
# The README's first command. Installs what a fresh Debian 12 machine lacks,
# builds mod_wsgi-rs into a virtual environment (`pip install .` of this
# checkout, which runs cargo) and serves examples/ with
# `mod_wsgi-express start-server` on 127.0.0.1, the application in a daemon
# process, until Ctrl-C.
#   scripts/run-example.sh          start (port from $PORT, default 8080)
#   scripts/run-example.sh stop     stop it from another terminal
set -euo pipefail
cd "$(dirname "$0")/.."
root=/tmp/mod_wsgi_rs-example
port="${PORT:-8080}"
venv="$root/venv"
server="$root/server"

running() {
  [ -f "$server/httpd.pid" ] && kill -0 "$(cat "$server/httpd.pid")" 2>/dev/null
}

if [ "${1:-}" = stop ]; then
  if running; then "$server/apachectl" stop && echo "stopped"; else echo "not running"; fi
  exit 0
fi

scripts/setup.sh example
if running; then
  "$server/apachectl" stop
  for _ in $(seq 50); do running || break; sleep 0.2; done
fi
mkdir -p "$root"
chmod 755 "$root"
[ -x "$venv/bin/python" ] || /usr/bin/python3.11 -m venv "$venv"
echo "run-example: building mod_wsgi-rs into $venv (pip install .)"
PIP_ROOT_USER_ACTION=ignore "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir \
  --force-reinstall --no-deps .
# Apache's processes (www-data when started as root) read the example from
# here, wherever the checkout is.
rm -rf "$root/examples"
cp -r examples "$root/examples"
chmod -R a+rX "$root"

"$venv/bin/mod_wsgi-express" start-server "$root/examples/hello.wsgi" \
  --host 127.0.0.1 --port "$port" --server-root "$server" --working-directory "$root/examples" &
express=$!
trap 'kill -TERM "$express" 2>/dev/null || true' INT TERM
for _ in $(seq 150); do
  if curl -sf "http://127.0.0.1:$port/" >/dev/null; then
    echo "mod_wsgi-rs is serving examples/hello.wsgi at http://127.0.0.1:$port/ (Ctrl-C or scripts/run-example.sh stop ends it)"
    break
  fi
  kill -0 "$express" 2>/dev/null || break
  sleep 0.2
done
status=0
wait "$express" || status=$?
# A signal interrupts the first wait; the second waits for the clean stop.
kill -0 "$express" 2>/dev/null && { wait "$express" || status=$?; }
exit "$status"
