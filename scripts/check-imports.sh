#!/usr/bin/env bash
# Checks that packages import only what docs/architecture.md (DESIGN §3)
# allows: the arrows point one way, the wire and SDK never link the engine or
# a store, and each outside technology stays in its own package.
set -euo pipefail
cd "$(dirname "$0")/.."

mod=github.com/deltasync/syncd
fail=0

# allowed PKG prints the module-internal and third-party imports PKG may
# have (a regular expression matched against each whole import path). The
# standard library is always allowed.
allowed() {
	case "$1" in
	$mod/revision | $mod/ringbuf) echo '^$' ;;
	$mod/internal/jsonkit) echo '^$' ;; # the JSON toolkit under protocol and delta: standard library only
	$mod/internal/fsync) echo '^$' ;; # how the log syncs, shared with the load generator's probe: standard library only
	$mod/delta) echo "^$mod/internal/jsonkit$" ;;
	$mod/protocol) echo "^$mod/(revision|internal/jsonkit)$" ;;
	$mod) echo "^($mod/(revision|delta|ringbuf|internal/jsonkit)|github.com/oklog/ulid/v2)$" ;;
	$mod/store/memstore) echo "^($mod|$mod/revision)$" ;;
	$mod/store/boltstore) echo "^($mod|$mod/(revision|internal/fsync)|go.etcd.io/bbolt(/.*)?)$" ;;
	$mod/store/natsstore) echo "^($mod|$mod/revision|github.com/nats-io/nats.go(/jetstream)?)$" ;; # the NATS client stays here; never the server (nats-server runs in internal/natsnode and the tests)
	$mod/store/storetest) echo "^($mod|$mod/revision|$mod/delta|pgregory.net/rapid)$" ;; # a test suite: it may use test libraries
	$mod/router) echo "^($mod/protocol|$mod/revision|github.com/gorilla/websocket|golang.org/x/time/rate|github.com/oklog/ulid/v2)$" ;;
	$mod/server) echo "^($mod|$mod/(router|protocol|revision|delta|client/browser)|github.com/prometheus/client_golang/.*|github.com/golang-jwt/jwt/v5|golang.org/x/time/rate|github.com/oklog/ulid/v2)$" ;;
	$mod/client/browser) echo '^$' ;; # the browser client's files, embedded: standard library only
	$mod/client) echo "^($mod/(protocol|delta|revision)|github.com/gorilla/websocket|github.com/oklog/ulid/v2)$" ;;
	$mod/schema) echo "^($mod|github.com/santhosh-tekuri/jsonschema/v6(/.*)?)$" ;; # the schema library stays here
	$mod/webhook) echo "^($mod|$mod/(revision|protocol)|github.com/prometheus/client_golang/.*|github.com/oklog/ulid/v2)$" ;;
	$mod/cmd/syncd) echo "^($mod|$mod/(server|router|protocol|revision|schema|store/boltstore|store/memstore|store/natsstore|webhook|internal/natsnode|internal/natsbus)|github.com/nats-io/nats.go|github.com/prometheus/client_golang/prometheus)$" ;; # nats.go only for the *nats.Conn handed from the node to the store; prometheus for the metric of the NATS watchdog
	$mod/internal/natsnode) echo "^github.com/nats-io/(nats-server/v2/server|nats.go|nats.go/jetstream)$" ;; # the NATS node and connections: NATS only, never the engine
	$mod/internal/syncdproc) echo '^$' ;; # runs the syncd binary as a child: standard library only
	$mod/internal/clustertest) echo "^$mod/internal/syncdproc$" ;; # a cluster of syncd processes for tests: it drives them over HTTP only
	$mod/internal/linearize) echo "^($mod/client|github.com/anishathalye/porcupine)$" ;; # the linearizability checker: the SDK drives syncd, porcupine checks
	# The one test environment (a real server, real clients). No rule lets
	# a package import it, so only tests (which go list leaves out) can.
	$mod/internal/testenv) echo "^($mod|$mod/(server|client|protocol|revision|store/memstore)|github.com/gorilla/websocket)$" ;;
	$mod/internal/natsbus) echo '^github.com/nats-io/nats.go$' ;; # the cluster bus on core NATS (server.Bus); server/ never imports NATS
	$mod/cmd/syncbench) echo "^($mod/(client|protocol|revision|delta|internal/natsnode|internal/fsync)|github.com/gorilla/websocket|github.com/oklog/ulid/v2|github.com/nats-io/nats.go(/jetstream)?)$" ;; # natsnode and nats.go for the bare JetStream ceiling
	$mod/examples/*/cmd/*) echo "^($mod/examples/[^/]+|$mod|$mod/(client|server|router|protocol|revision|delta|store/boltstore|store/memstore))$" ;;
	$mod/examples/*) echo "^($mod|$mod/(client|server|router|protocol|revision|delta|store/boltstore|store/memstore))$" ;;
	*) echo "UNKNOWN" ;;
	esac
}

# Packages that must never link the engine or a database, even indirectly,
# so that a program using the wire or the SDK stays small.
lean="$mod/protocol $mod/client $mod/revision $mod/delta $mod/ringbuf $mod/router $mod/internal/jsonkit"

while IFS=: read -r pkg imports; do
	allow=$(allowed "$pkg")
	if [ "$allow" = UNKNOWN ]; then
		echo "import check: package $pkg has no rule in scripts/check-imports.sh"
		fail=1
		continue
	fi
	for imp in ${imports//,/ }; do
		# Standard library paths have no dot in their first element.
		first=${imp%%/*}
		case "$first" in *.*) ;; *) continue ;; esac
		if ! [[ "$imp" =~ $allow ]]; then
			echo "import check: $pkg must not import $imp"
			fail=1
		fi
	done
done < <(go list -f '{{.ImportPath}}:{{join .Imports ","}}' ./...)

for pkg in $lean; do
	go list "$pkg" >/dev/null 2>&1 || continue
	if deps=$(go list -deps "$pkg" | grep -E "^($mod|go.etcd.io/bbolt|$mod/store/.*|$mod/server)$"); then
		echo "import check: $pkg links $(echo $deps | tr '\n' ' ')"
		fail=1
	fi
done

if [ "$fail" = 0 ]; then
	echo "import check: ok ($(go list ./... | wc -l) packages)"
fi
exit "$fail"
