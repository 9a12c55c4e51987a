#!/bin/bash
# An interleaved series of `syncbench writers` runs on bolt, for comparing
# syncd binaries on a shared machine (BENCHMARKS.md, issue 14's fourth
# round). One run per invocation, the binaries alternated within each
# round, so that a slow phase of the machine hits all of them alike.
#
# Besides syncbench's JSON, it reads the syncd child's /metrics 3.5 s and
# 7.5 s into each run (inside the measured window of syncbench's default
# 2 s warm-up + 5 s), so that writers-series.py can report the group-commit
# factor (records per store commit) and the CPU per operation, which
# syncbench does not print.
#
# Usage: writers-series.sh OUTDIR ROUNDS CLIENTS SYNCBENCH SYNCD-BIN...
# then:  writers-series.py OUTDIR
set -u
out=$1 rounds=$2 clients=$3 bench=$4
shift 4
mkdir -p "$out"
for i in $(seq 1 "$rounds"); do
	for bin in "$@"; do
		name=$(basename "$bin")
		base="$out/$name-$clients-$i"
		uptime >"$base.load"
		"$bench" writers -clients "$clients" -store bolt -server syncd -runs 1 \
			-syncd-bin "$bin" -out "$base.json" >"$base.txt" 2>&1 &
		bench_pid=$!
		sleep 3.5
		# The child is the process running $bin itself (syncbench's own
		# command line names it too, after -syncd-bin).
		pid=$(pgrep -f "^$bin( |$)" | head -1)
		addr=$(ss -ltnp 2>/dev/null | grep "pid=$pid," | awk '{print $4}' | head -1)
		curl -s "http://$addr/metrics" >"$base.m1"
		sleep 4
		curl -s "http://$addr/metrics" >"$base.m2"
		wait "$bench_pid"
	done
done
