#!/usr/bin/env bash
# The whole test suite: installs what it needs, type-checks, lints, then runs every test
# file with Node's built-in runner against the real services.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_node_modules
ensure_local_services

echo "== typecheck"
npx tsc --noEmit
echo "== lint"
npx eslint --max-warnings 0 .

mapfile -t files < <(find src test sdk bench -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
# Build the web client once, before the browser suites start in parallel.
echo "== web client"
bash scripts/build-web.sh
echo "== tests (${#files[@]} files)"
# A hung test fails after 15 minutes instead of holding CI (cold builds of the test peers fit well inside).
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-3}" --test-timeout="${TEST_TIMEOUT_MS:-900000}" "${files[@]}"
