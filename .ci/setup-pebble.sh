#!/usr/bin/env bash
# Installs Debian's pebble (ACME test server + pebble-challtestsrv) for the ACME tests, only when missing.
# Idempotent: a second run does nothing. The tests mint Pebble's localhost API certificate themselves
# (test/support/pebble.ts) and start both binaries on free loopback ports.
set -euo pipefail

if command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1; then
  echo "pebble already installed: $(command -v pebble)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "setup-pebble: need root (or sudo) to apt-get install pebble" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends pebble openssl ca-certificates

command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null || {
  echo "setup-pebble: pebble binaries not found after install" >&2
  exit 1
}
echo "pebble installed: $(command -v pebble)"
