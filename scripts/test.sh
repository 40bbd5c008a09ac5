#!/usr/bin/env bash
# Runs every check: set-up, format, lints, the build, unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

scripts/setup.sh
cargo fmt --all --check
cargo clippy --release --workspace --all-targets -- -D warnings
cargo build --release
cargo test --release --workspace --no-fail-fast
scripts/fuzz.sh 30
