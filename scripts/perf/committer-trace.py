#!/usr/bin/env python3
"""Where the committer's time goes, from a runtime trace of syncd.

Usage (BENCHMARKS.md, "where the time goes"):

    SYNCD_PPROF_ADDR=127.0.0.1:16061 syncbench writers -clients 10 -store bolt \
        -server syncd -runs 1 -duration 6s -syncd-bin BIN &
    sleep 4.5; curl -so t.trace 'http://127.0.0.1:16061/debug/pprof/trace?seconds=2'
    go tool trace -d=parsed t.trace > t.parsed
    scripts/perf/committer-trace.py t.parsed

It prints, for the write-ahead log's fdatasyncs (the committer's): their
duration; how long after a sync began another goroutine got to run (with
one P, the syncing goroutine keeps it until the runtime's monitor takes it
back); whether the committer came back from the sync to a free P (Running)
or had to wait for one (Runnable); and the committer's time per state.
"""
import collections
import re
import statistics as st
import sys

EVENT = re.compile(r'^M=(-?\d+) P=(-?\d+) G=(-?\d+) StateTransition Time=(\d+) (GoID|ProcID)=(\d+) (\w+)->(\w+)')


def read(path):
    lines = open(path).read().split('\n')
    events, i = [], 0
    while i < len(lines):
        m = EVENT.match(lines[i])
        if not m:
            i += 1
            continue
        j, frames = i + 1, []
        while j < len(lines) and not lines[j].startswith('M='):
            if '@' in lines[j]:
                frames.append(lines[j].strip().split(' @')[0])
            j += 1
        events.append((int(m.group(4)), m.group(5), int(m.group(6)), m.group(7), m.group(8), frames))
        i = j
    events.sort(key=lambda e: e[0])
    return events


def main(path):
    events = read(path)
    committer, open_syncs, syncs = None, {}, []
    for k, (t, kind, gid, frm, to, frames) in enumerate(events):
        if kind != 'GoID':
            continue
        if frm == 'Running' and to == 'Syscall' and any('Fdatasync' in f for f in frames[:3]) \
                and any('walLog' in f for f in frames):
            committer = gid
            other = None
            for e in events[k + 1:k + 400]:
                if e[1] == 'GoID' and e[3] == 'Runnable' and e[4] == 'Running' and e[2] != gid:
                    other = e[0] - t
                    break
                if e[1] == 'GoID' and e[2] == gid:
                    break
            open_syncs[gid] = (t, other)
        elif frm == 'Syscall' and gid in open_syncs:
            t0, other = open_syncs.pop(gid)
            syncs.append((t - t0, other, to))
    if not syncs:
        sys.exit('no fdatasync of the write-ahead log in this trace')
    d = sorted(s[0] / 1e3 for s in syncs)
    print('log fdatasyncs: %d, p50 %.0f µs, mean %.0f µs, p90 %.0f µs' % (len(d), d[len(d) // 2], st.mean(d), d[len(d) * 9 // 10]))
    o = sorted(s[1] / 1e3 for s in syncs if s[1] is not None)
    if o:
        print('another goroutine ran during the sync in %d of them, p50 %.0f µs after it began' % (len(o), o[len(o) // 2]))
    print('the committer came back from the sync:', dict(collections.Counter(s[2] for s in syncs)))
    state, last, acc = None, None, collections.Counter()
    for t, kind, gid, frm, to, _ in events:
        if kind == 'GoID' and gid == committer:
            if state is not None:
                acc[state] += t - last
            state, last = to, t
    total = sum(acc.values())
    print('committer time: ' + ', '.join('%s %.0f ms (%.0f%%)' % (k, v / 1e6, 100 * v / total) for k, v in acc.most_common()))
    print('per sync: waiting for a P after it %.0f µs, waiting for work %.0f µs' % (acc['Runnable'] / len(syncs) / 1e3, acc['Waiting'] / len(syncs) / 1e3))


if __name__ == '__main__':
    main(sys.argv[1])
