#!/usr/bin/env bash
# Runs Parley. With no configuration: the embedded profile (PGlite, in-process bus and
# jobs, local media) with its data under ./data, on http://localhost:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_node_modules
echo "== build"
npx tsc -p tsconfig.build.json
bash scripts/build-web.sh
# Web Push works out of the box: a VAPID key pair is generated into DATA_DIR when none is set.
export WEB_PUSH_GENERATE_KEYS="${WEB_PUSH_GENERATE_KEYS:-true}"
exec node dist/src/cli.js serve "$@"
