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
export PATH="$PATH:/usr/local/go/bin"

if [ ! -d node_modules ]; then
	if ! npm ci --no-audit --no-fund >&2; then
		echo "npm ci failed" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
fi

extra_fail=0
if npx --no-install tsc --noEmit -p .; then
	echo "tsc --noEmit: ok"
else
	echo "tsc --noEmit: FAILED"
	extra_fail=1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
node --test --test-reporter=tap --test-timeout=240000 test/ >"$out" 2>&1
rc=$?
cat "$out"

pass=$(sed -n 's/^# pass \([0-9][0-9]*\)$/\1/p' "$out" | tail -n 1)
fail=$(sed -n 's/^# fail \([0-9][0-9]*\)$/\1/p' "$out" | tail -n 1)
if [ -z "$pass" ] || [ -z "$fail" ]; then
	# No summary: the runner itself failed.
	pass=${pass:-0}
	fail=$((${fail:-0} + 1))
fi
fail=$((fail + extra_fail))
echo "$pass passed, $fail failed"
if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ]; then
	exit 1
fi
