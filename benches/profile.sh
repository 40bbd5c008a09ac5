#!/usr/bin/env bash
# Instructions per request, counted by callgrind: a single-process Apache
# (apache2 -X, mpm_prefork) serves the 12-byte hello app with each module,
# and a static file as the floor. Unlike req/s, the counts repeat exactly
# from run to run, whatever else the machine is doing.
#
#   benches/profile.sh [requests] [app]   (default 2000 hello)
#
# app "echo": a 1 MiB POST echoed back, with our module only (both modes).
# MOD_WSGI_RS_SO=/path/to.so profiles another build of ours.
#
# Each figure is (cost of N+500 requests - cost of 500; 50 for echo) / N, so start-up,
# shutdown and the first request's interpreter and script loading drop
# out. In daemon mode the Apache process's share and the daemon process's
# share are shown apart. The callgrind files are kept for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-2000}"
app="${2:-hello}"
cargo build --release --quiet
command -v valgrind >/dev/null || apt-get install -y valgrind
[ -e /usr/lib/apache2/modules/mod_wsgi.so ] || apt-get install -y libapache2-mod-wsgi-py3

dir="$(mktemp -d /tmp/mod_wsgi_rs-profile-XXXXXX)"
mkdir -p "$dir/apps" "$dir/htdocs" "$dir/out"
printf 'Hello World!' >"$dir/htdocs/hello.txt"
cat >"$dir/apps/hello.wsgi" <<'EOF'
def application(environ, start_response):
    body = b'Hello World!'
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
EOF
cat >"$dir/apps/echo.wsgi" <<'EOF'
def application(environ, start_response):
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Type', 'application/octet-stream'), ('Content-Length', str(len(body)))])
    return [body]
EOF
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
write_conf() { # module path
  cat >"$dir/httpd.conf" <<EOF
ServerRoot $dir
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile $dir/httpd.pid
ErrorLog $dir/error_log
DefaultRuntimeDir $dir
LogLevel warn
TypesConfig /etc/mime.types
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule wsgi_module $1
KeepAlive On
MaxKeepAliveRequests 0
EnableSendfile Off
DocumentRoot $dir/htdocs
<Directory $dir>
    Require all granted
</Directory>
WSGIScriptAlias /embedded $dir/apps/$app.wsgi
WSGISocketPrefix $dir/wsgi
WSGIDaemonProcess profile processes=1 threads=15
WSGIScriptAlias /daemon $dir/apps/$app.wsgi process-group=profile application-group=%{GLOBAL}
EOF
}
chown -R www-data "$dir"

# Prints "apache-instructions daemon-instructions" for `count` requests
# to `url`, whole processes counted. Apache runs as www-data (so callgrind
# can write its files after the switch of user).
count() { # name url count
  local log="$dir/out/$1.log"
  runuser -u www-data -- valgrind --tool=callgrind --callgrind-out-file="$dir/out/callgrind.$1.%p" \
    \
    /usr/sbin/apache2 -X -f "$dir/httpd.conf" >"$log" 2>&1 &
  local vg=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/hello.txt" && break; sleep 0.3; done
  python3 - "$port" "$2" "$3" "$app" <<'EOF'
import http.client, sys
port, url, n, app = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = bytes(range(256)) * 4096 if app == "echo" and url != "/hello.txt" else None
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("POST" if body else "GET", url, body=body)
    r = c.getresponse()
    got = r.read()
    assert r.status == 200, (url, r.status)
    assert body is None or got == body, url
EOF
  pkill -TERM -f "valgrind.bin.*callgrind.$1\." || true
  wait "$vg" || true
  while pgrep -f "valgrind.bin.*callgrind.$1\." >/dev/null; do sleep 0.2; done
  # The Apache process is the one valgrind started; any other is a daemon.
  local main
  main="$(sed -nE '1,/Command:/s/^==([0-9]+)== Command:.*/\1/p' "$log")"
  local child=0 daemon=0 pid v
  while read -r pid v; do
    if [ "$pid" = "$main" ]; then child=$v; else daemon=$((daemon + v)); fi
  done < <(sed -nE 's/^==([0-9]+)== Collected : ([0-9,]+)/\1 \2/p' "$log" | tr -d ,)
  echo "$child $daemon"
}

base=$([ "$app" = echo ] && echo 50 || echo 500)
per_request() { # name url
  read -r c0 d0 < <(count "$1-base" "$2" "$base")
  read -r c1 d1 < <(count "$1" "$2" $((base + n)))
  echo "$(((c1 - c0) / n)) $(((d1 - d0) / n))"
}

printf '%-24s %12s %12s %12s\n' "instructions/request" "apache" "daemon" "total"
row() { # label name url module
  write_conf "$4"
  read -r c d < <(per_request "$2" "$3")
  printf '%-24s %12d %12d %12d\n' "$1" "$c" "$d" "$((c + d))"
}
ours="${MOD_WSGI_RS_SO:-$PWD/target/release/libmod_wsgi.so}"
debian=/usr/lib/apache2/modules/mod_wsgi.so
if [ "$app" = echo ]; then
  row "ours embedded, echo" ours-embedded /embedded "$ours"
  row "ours daemon, echo" ours-daemon /daemon "$ours"
else
  row "static file" static /hello.txt "$ours"
  row "ours embedded" ours-embedded /embedded "$ours"
  row "mod_wsgi embedded" mw-embedded /embedded "$debian"
  row "ours daemon" ours-daemon /daemon "$ours"
  row "mod_wsgi daemon" mw-daemon /daemon "$debian"
fi
echo "callgrind files: $dir/out"
