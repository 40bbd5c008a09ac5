#!/usr/bin/env bash
# Fuzzes the daemon wire protocol (core/src/protocol.rs) for a bounded time.
#
#   scripts/fuzz.sh [seconds]     each target runs this long (default 30)
#
# Targets (fuzz/fuzz_targets/): decode_frames (arbitrary bytes through the
# decoder) and roundtrip (structured frames through encode and decode).
# Exits non-zero if any target crashes: a panic or failed assertion, a
# run over 10 s (a loop that does not end), or over 2 GiB of memory.
#
# Stable Rust is enough: `--sanitizer none` makes cargo-fuzz build with
# stable -C flags only (sancov instrumentation, libFuzzer from the
# libfuzzer-sys crate). The sanitizers (`-Zsanitizer`) would need nightly,
# or RUSTC_BOOTSTRAP=1 on stable; the protocol code has no `unsafe`, and
# the targets check allocation sizes themselves (fuzz/fuzz_targets/alloc_bound.rs).
#
# Each target's libFuzzer output goes to fuzz/artifacts/<target>.log; a
# crashing input is saved beside it as fuzz/artifacts/<target>/crash-*.
# Replay one with:
#   cd fuzz && cargo fuzz run --sanitizer none <target> artifacts/<target>/crash-...
# The corpus grows in fuzz/corpus/<target> (ignored by git) across runs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-30}"
[[ "$seconds" =~ ^[0-9]+$ ]] && ((seconds > 0)) || { echo "usage: $0 [seconds]" >&2; exit 2; }

CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION (once per machine)"
  start=$SECONDS
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
  echo "fuzz: installed cargo-fuzz in $((SECONDS - start)) s"
fi

targets=(decode_frames roundtrip)
mkdir -p artifacts
start=$SECONDS
if ! cargo fuzz build --sanitizer none >artifacts/build.log 2>&1; then
  cat artifacts/build.log >&2
  echo "fuzz: the targets did not build" >&2
  exit 1
fi
echo "fuzz: built ${targets[*]} in $((SECONDS - start)) s"

passed=0
failed=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log="artifacts/$t.log"
  if cargo fuzz run --sanitizer none "$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $t ok, ${runs:-?} runs in ${seconds} s, corpus $(find "corpus/$t" -type f | wc -l) inputs"
    passed=$((passed + 1))
  else
    echo "fuzz: $t FAILED (all of it in fuzz/$log):" >&2
    grep -E -A1 'panicked at|ERROR: libFuzzer|Test unit written|^Error:' "$log" >&2 || tail -n 40 "$log" >&2
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
