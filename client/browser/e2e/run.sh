#!/usr/bin/env bash
# Runs the end-to-end tests of the demo page and the admin page (/admin) in
# headless Chromium, from any directory: installs the test-only dev
# dependencies if missing (npm ci, for
# playwright-core, which drives the system Chromium and never downloads a
# browser of its own), then runs e2e/*.test.js under Node's test runner. The
# tests build and start syncd themselves (Go required); screenshots go to
# e2e/artifacts/.
#
# A missing /usr/bin/chromium (or $CHROMIUM) is a failure, unless
# E2E_OPTIONAL=1, when the tests are skipped with a message and exit 0.
# The last line is "N passed, N failed". Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
. testlib/tap.sh
chromium="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$chromium" ]; then
	if [ "${E2E_OPTIONAL:-0}" = 1 ]; then
		echo "SKIPPED: $chromium not found (install it: apt-get install -y chromium); E2E_OPTIONAL=1"
		echo "0 passed, 0 failed"
		exit 0
	fi
	fail_early "$chromium not found: install it (apt-get install -y chromium), or set E2E_OPTIONAL=1 to skip"
fi

need_deps node_modules/playwright-core

mkdir -p e2e/artifacts
# Playwright must not fetch a browser, whatever happens.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# The whole run is bounded too: the test timeout bounds each test, and
# `timeout` the rest (a hung browser start, say).
run_tap 0 timeout -k 10 600 node --test --test-reporter=tap --test-concurrency=1 --test-timeout=180000 e2e/*.test.js
