#!/usr/bin/env bash
# Builds the web client (web/dist) unless it is newer than every one of its sources. Test
# files run in parallel and several need the client: they all call this, one builds, the
# others wait on the lock and then find the build current. (A second `vite build` while a
# browser test is loading pages empties web/dist under it.)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f web/index.html ] || exit 0
mkdir -p build
exec 9>build/.web-build.lock
flock 9
built=web/dist/index.html
if [ -f "$built" ] && [ -z "$(find web/src web/public web/index.html web/vite.config.ts web/tsconfig.json sdk -type f -newer "$built" 2>/dev/null | head -1)" ]; then
  exit 0
fi
echo "# building the web client (npm run build:web)"
npm run --silent build:web
