#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test mod_wsgi-rs.
# Safe to run repeatedly: it only calls apt-get when a package is missing.
#   scripts/setup.sh          everything from apt for building and testing
#   scripts/setup.sh tests    that, and what the tests need beyond apt (cargo-deb)
#   scripts/setup.sh bench    that, and what benches/run.sh needs beyond it (the peers'
#                             Apache module, gcc for building uWSGI with pip)
#   scripts/setup.sh example  only what building and serving need (scripts/run-example.sh)
set -euo pipefail

packages=(
  apache2 apache2-dev          # the server, apxs and the httpd/APR headers
  libclang-dev                 # bindgen
  python3.11 python3.11-dev python3.11-venv  # the libpython we link, venvs (express mode, tests)
  curl
)
[ "${1:-}" = example ] || packages+=(
  libapache2-mod-wsgi-py3      # Debian's mod_wsgi, the reference we compare with
  wrk procps psmisc strace     # tests (strace checks sendfile use) and benchmarks
  haproxy nginx openssl iproute2  # front-proxy and multi-host tests (their own configs, netns); mod_wsgi-express --https-port certificates
  dpkg-dev                     # cargo deb: dpkg-shlibdeps finds the package's dependencies
  prometheus                   # promtool checks the status page's Prometheus text
  chromium                     # headless, loads the status page in a test
)
if [ "${1:-}" = bench ]; then
  packages+=(
    libapache2-mod-proxy-uwsgi   # Apache's side of uWSGI's protocol
    gcc                          # pip builds uWSGI from source (with python3.11-dev)
  )
fi
# System services those packages start; the tests start their own servers.
services=(apache2 haproxy nginx prometheus)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for svc in "${services[@]}"; do
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      $SUDO systemctl disable "$svc" >/dev/null 2>&1 || true
    else
      $SUDO update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
  done
fi

command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (rustup) first" >&2; exit 1; }

if [ "${1:-}" = tests ]; then
  # tests/debian_package.rs builds the .deb with cargo-deb.
  CARGO_DEB_VERSION=3.8.0
  if ! cargo deb --version 2>/dev/null | grep -qF "$CARGO_DEB_VERSION"; then
    echo "setup: installing cargo-deb $CARGO_DEB_VERSION (once per machine)"
    start=$SECONDS
    cargo install --quiet --locked cargo-deb --version "$CARGO_DEB_VERSION"
    echo "setup: installed cargo-deb in $((SECONDS - start)) s"
  fi
fi
