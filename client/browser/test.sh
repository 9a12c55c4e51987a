#!/usr/bin/env bash
# Runs the browser client's checks, from any directory: installs the test-only
# dev dependencies if missing (npm ci), type-checks syncd.d.ts against
# check.ts (tsc --noEmit), and runs the unit and integration tests under
# Node's test runner (the integration tests build and start syncd
# themselves, so Go must be installed).
#
# The last line is "N passed, N failed", summed from node's TAP summary; a
# failed type check counts as one more failure. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")"
. testlib/tap.sh

need_deps node_modules

extra_fail=0
if npx --no-install tsc --noEmit -p .; then
	echo "tsc --noEmit: ok"
else
	echo "tsc --noEmit: FAILED"
	extra_fail=1
fi

run_tap "$extra_fail" node --test --test-reporter=tap --test-timeout=240000 test/
