# Shared by test.sh and e2e/run.sh (sourced, from client/browser): the
# setup both need and the one way they report, so that scripts/test.sh
# can read the last line of either: "N passed, N failed".

export PATH="$PATH:/usr/local/go/bin"

# fail_early MESSAGE: reports a failure before any test ran, and exits.
fail_early() {
	echo "$1" >&2
	echo "0 passed, 1 failed"
	exit 1
}

# need_deps PATH: installs the test-only dev dependencies (npm ci) unless
# PATH, relative to client/browser, is already there.
need_deps() {
	if [ ! -e "$1" ]; then
		npm ci --no-audit --no-fund >&2 || fail_early "npm ci failed"
	fi
}

# run_tap EXTRA_FAIL COMMAND...: runs a node --test-reporter=tap command,
# shows its output, then prints "N passed, N failed" summed from the TAP
# summary (plus EXTRA_FAIL failures counted before it; no summary at all,
# the runner itself failed or timed out, is one more), and exits non-zero
# on any failure.
run_tap() {
	local extra_fail=$1 out rc pass fail
	shift
	out=$(mktemp)
	"$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	pass=$(sed -n 's/^# pass \([0-9][0-9]*\)$/\1/p' "$out" | tail -n 1)
	fail=$(sed -n 's/^# fail \([0-9][0-9]*\)$/\1/p' "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$pass" ] || [ -z "$fail" ]; then
		pass=${pass:-0}
		fail=$((${fail:-0} + 1))
	fi
	fail=$((fail + extra_fail))
	echo "$pass passed, $fail failed"
	if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ]; then
		exit 1
	fi
	exit 0
}
