#!/usr/bin/env bash
# Builds the module, makes sure Debian's mod_wsgi and wrk are installed, and
# runs benches/bench.py (arguments are passed on). Not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release
exec python3 benches/bench.py "$@"
