#!/usr/bin/env bash
# Builds the module and starts Apache on 127.0.0.1 serving examples/hello.wsgi.
#   scripts/run-example.sh          start (port from $PORT, default 8080)
#   scripts/run-example.sh stop     stop it
set -euo pipefail
cd "$(dirname "$0")/.."
root=/tmp/mod_wsgi_rs-example
port="${PORT:-8080}"

if [ "${1:-}" = stop ]; then
  [ -f "$root/httpd.conf" ] && /usr/sbin/apache2 -f "$root/httpd.conf" -k stop && echo "stopped"
  exit 0
fi

scripts/setup.sh
cargo build --release
if [ -f "$root/logs/httpd.pid" ] && kill -0 "$(cat "$root/logs/httpd.pid")" 2>/dev/null; then
  /usr/sbin/apache2 -f "$root/httpd.conf" -k stop
  sleep 1
fi
mkdir -p "$root/logs" "$root/run" "$root/wsgi-scripts" "$root/htdocs"
cp examples/hello.wsgi "$root/wsgi-scripts/"
cp target/release/libmod_wsgi.so "$root/"
chmod -R a+rX "$root"
user_lines=""
[ "$(id -u)" -eq 0 ] && user_lines=$'User www-data\nGroup www-data'
sed -e "s#@ROOT@#$root#g" -e "s#@PORT@#$port#g" examples/httpd.conf > "$root/httpd.conf"
printf '%s\n' "$user_lines" >> "$root/httpd.conf"
/usr/sbin/apache2 -f "$root/httpd.conf" -k start
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/" >/dev/null && break
  sleep 0.2
done
echo "mod_wsgi-rs is serving examples/hello.wsgi at http://127.0.0.1:$port/"
echo "error log: $root/logs/error_log; stop with: scripts/run-example.sh stop"
