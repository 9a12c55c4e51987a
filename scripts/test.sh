#!/usr/bin/env bash
# Runs every test of syncd, as CI does: formatting and vet, the import
# rules, all Go tests under the race detector, the browser client's type
# check and Node tests, and a short run of every fuzz target. Prints how long
# each phase took. Installs what it needs when missing (Go modules, Node.js
# from Debian's packages, the browser client's npm dev dependencies).
#
#   ./scripts/test.sh            everything
#   FUZZTIME=30s ./scripts/test.sh   longer fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
FUZZTIME=${FUZZTIME:-10s}
start_all=$(date +%s)
phase_start=$start_all

phase() {
	local now
	now=$(date +%s)
	if [ -n "${PHASE:-}" ]; then
		printf '=== phase %-10s %4ds\n' "$PHASE" "$((now - phase_start))"
	fi
	PHASE=$1
	phase_start=$now
	echo "=== phase $PHASE"
}

phase setup
go version
go mod download
# Node first: the Go tests use it too (delta's differential test runs the
# browser client's patch code), not only the browser phase.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "installing Node.js and npm (Debian packages)"
	apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
node --version

phase format
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

phase imports
./scripts/check-imports.sh

phase test
# -race everywhere; goroutine-leak checks live in each package's TestMain.
go test -race -count=1 -timeout 15m ./...

phase browser
# The browser client (client/browser): type check and Node tests, some
# against a real syncd that the tests build and start on 127.0.0.1.
./client/browser/test.sh
# End-to-end in headless Chromium (Debian's; playwright-core drives it and
# never downloads a browser of its own).
if [ ! -x /usr/bin/chromium ]; then
	echo "installing Chromium (Debian package)"
	apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
./client/browser/e2e/run.sh

phase fuzz
# Every fuzz target for FUZZTIME, two at a time with one fuzzing worker
# each (FUZZJOBS): the machine has two cores, so each target still fuzzes
# for its whole FUZZTIME and the phase takes half as long.
FUZZJOBS=${FUZZJOBS:-2}
count_files() { { find "$1" -type f 2>/dev/null || true; } | wc -l; }
# fuzz_one PKG TARGET fuzzes one target and prints its log when done (so
# that two running at once do not interleave their lines).
fuzz_one() {
	local pkg=$1 target=$2 log out dir before ok=0
	log=$(mktemp); out=$(mktemp)
	dir="$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target"
	before=$(count_files "$dir")
	echo "--- fuzz $pkg $target ($FUZZTIME)" >"$out"
	for attempt in 1 2 3; do
		if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" -parallel=1 "$pkg" >"$log" 2>&1; then
			ok=1; break
		fi
		# A real failure saves its input under testdata/fuzz/: never
		# retry that. A failure without one is the fuzzing engine's own
		# (a worker starved on a loaded machine, or "context deadline
		# exceeded" as the time runs out): show it and try again, three
		# attempts in all.
		cat "$log" >>"$out"
		[ "$(count_files "$dir")" -gt "$before" ] && break
		echo "--- fuzz $target: no failing input was saved (the fuzzing engine's own failure); trying again" >>"$out"
	done
	[ "$ok" = 1 ] && tail -n 1 "$log" >>"$out"
	cat "$out"; rm -f "$log" "$out"
	[ "$ok" = 1 ]
}
export -f fuzz_one count_files
export FUZZTIME
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "$pkg $target"
	done
done | xargs -P "$FUZZJOBS" -L 1 bash -c 'fuzz_one "$@"' _ || { echo "fuzzing failed"; exit 1; }

phase done
echo "=== all phases passed in $(($(date +%s) - start_all))s"
