#!/usr/bin/env bash
# Installs the built module into Apache's module directory and writes
# a2enmod-style files, so `a2enmod wsgi_rs` enables it. (The Debian package,
# `cargo deb`, installs the same files.)
#   apxs/install.sh [path/to/libmod_wsgi.so]
set -euo pipefail
cd "$(dirname "$0")/.."
so="${1:-target/release/libmod_wsgi.so}"
[ -f "$so" ] || { echo "install: $so not found; run cargo build --release" >&2; exit 1; }
libexec="$(apxs -q LIBEXECDIR)"
sysconf="$(apxs -q SYSCONFDIR)"
install -m 0644 "$so" "$libexec/mod_wsgi_rs.so"
mods="$sysconf/mods-available"
if [ -d "$mods" ]; then
  # wsgi_rs.load names Debian's module directory.
  sed "s#/usr/lib/apache2/modules/#$libexec/#" apxs/wsgi_rs.load > "$mods/wsgi_rs.load"
  install -m 0644 apxs/wsgi_rs.conf "$mods/wsgi_rs.conf"
  echo "installed $libexec/mod_wsgi_rs.so; enable with: a2dismod wsgi; a2enmod wsgi_rs"
else
  echo "installed $libexec/mod_wsgi_rs.so; add: LoadModule wsgi_module $libexec/mod_wsgi_rs.so"
fi
