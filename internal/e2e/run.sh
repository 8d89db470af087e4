#!/usr/bin/env bash
# Puts the tools the engine tests run into $LAMINA_E2E_BIN (or ./bin) with build-tools.sh,
# from the tool cache where it has them (not when LAMINA_E2E_TOOLS_BUILT=1 says the caller
# just did), vets and runs the tests, and prints as its last line
#   e2e: N passed, M failed
# The chart mirror is ../shared/charts beside the repository, or $LAMINA_CHART_MIRROR.
set -euo pipefail
cd "$(dirname "$0")"
export LAMINA_E2E_BIN=${LAMINA_E2E_BIN:-$(pwd)/bin}
if [ "${LAMINA_E2E_TOOLS_BUILT:-}" != 1 ]; then
  ./build-tools.sh "$LAMINA_E2E_BIN"
fi
go vet ./...
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
go test -count=1 -v -timeout 45m ./... >"$log" 2>&1 || status=$?
grep -v -e '^=== RUN' -e '^=== PAUSE' -e '^=== CONT' -e '^e2e: [0-9]* passed' "$log" || true
summary=$(grep '^e2e: [0-9]* passed' "$log" | tail -n 1 || true)
if [ -z "$summary" ]; then
  summary="e2e: 0 passed, 1 failed (the tests stopped before their summary; exit $status)"
  if [ "$status" -eq 0 ]; then status=1; fi
fi
printf '%s\n' "$summary"
exit "$status"
