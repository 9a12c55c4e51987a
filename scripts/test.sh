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
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "installing Node.js and npm (Debian packages)"
	apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
node --version
./client/browser/test.sh
# End-to-end in headless Chromium (Debian's; playwright-core drives it and
# never downloads a browser of its own).
if [ ! -x /usr/bin/chromium ]; then
	echo "installing Chromium (Debian package)"
	apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
./client/browser/e2e/run.sh

phase fuzz
count_files() { { find "$1" -type f 2>/dev/null || true; } | wc -l; }
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "--- fuzz $pkg $target ($FUZZTIME)"
		log=$(mktemp)
		dir="$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target"
		before=$(count_files "$dir")
		ok=0
		for attempt in 1 2; do
			if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >"$log" 2>&1; then
				ok=1; break
			fi
			# A real failure saves its input under testdata/fuzz/:
			# never retry that. A failure without one is the fuzzing
			# engine's own (a worker starved on a loaded machine):
			# show it and try once more.
			cat "$log"
			[ "$(count_files "$dir")" -gt "$before" ] && break
			echo "--- fuzz $target: no failing input was saved; retrying once"
		done
		if [ "$ok" != 1 ]; then
			rm -f "$log"; exit 1
		fi
		tail -n 1 "$log"; rm -f "$log"
	done
done

phase done
echo "=== all phases passed in $(($(date +%s) - start_all))s"
