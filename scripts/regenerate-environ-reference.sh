#!/usr/bin/env bash
# Rewrites tests/reference/environ-mod_wsgi-4.9.json by sending the requests
# of tests/environ_reference.rs to Debian's mod_wsgi
# (libapache2-mod-wsgi-py3, installed by scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
test -f /usr/lib/apache2/modules/mod_wsgi.so || {
  echo "Debian's mod_wsgi is not installed; run scripts/setup.sh" >&2
  exit 1
}
cargo build --release
cargo test --release --test environ_reference -- --ignored --exact regenerate_reference --nocapture
git --no-pager diff --stat -- tests/reference/environ-mod_wsgi-4.9.json || true
