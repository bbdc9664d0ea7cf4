#!/usr/bin/env bash
# Installs Debian's Chromium (and a colour emoji font, so screenshots show reactions) for
# the browser tests, if missing. Idempotent. The tests never download a browser of their own.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || missing+=(fonts-noto-color-emoji)
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
echo "== installing ${missing[*]} (Debian packages)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
command -v chromium >/dev/null
