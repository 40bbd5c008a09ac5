#!/usr/bin/env bash
# Runs every check: set-up, format, lints, the build, unit and integration
# tests, then a bounded fuzzing run; ends with one line counting them all.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

scripts/setup.sh tests
cargo fmt --all --check
cargo clippy --release --workspace --all-targets -- -D warnings
cargo build --release

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --release --workspace --no-fail-fast 2>&1 | tee "$log" || status=1
# The request-handling tests again, every application in a daemon process.
request_tests=(embedded_requests embedded_errors request_pep3333 request_headers request_input
  request_file_wrapper request_directives request_validator script_mapping quick_configuration_guide)
MOD_WSGI_RS_TEST_MODE=daemon cargo test --release --no-fail-fast "${request_tests[@]/#/--test=}" 2>&1 |
  tee -a "$log" || status=1
fuzz_ok=1
scripts/fuzz.sh 30 || { status=1; fuzz_ok=0; }

# "test result: ok. 12 passed; 0 failed; ..." lines, one per test binary.
read -r passed failed < <(sed -nE 's/^test result: [A-Za-z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$log" |
  awk '{p += $1; f += $2} END {print p + 0, f + 0}')
if [ "$fuzz_ok" = 1 ]; then passed=$((passed + 2)); else failed=$((failed + 1)); fi
echo "tests: $passed passed, $failed failed"
exit "$status"
