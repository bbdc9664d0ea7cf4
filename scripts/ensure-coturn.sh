#!/usr/bin/env bash
# Installs Debian's coturn (the TURN server of the relay test) if missing. Idempotent.
set -euo pipefail
command -v turnserver >/dev/null 2>&1 && exit 0
echo "== installing coturn (Debian package)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq coturn >/dev/null
command -v turnserver >/dev/null
