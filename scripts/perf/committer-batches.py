#!/usr/bin/env python3
"""How the committer's batches form, from a dump of per-batch stamps.

BENCHMARKS.md (issue 14, fifth round). The dump comes from a temporary
build, not committed: the committer records, per batch, when it took the
batch, when Store.Commit began and ended, when delivery ended, the batch's
size, and the earliest and latest time one of its edits was queued
(submitLocked), all as Unix nanoseconds, one batch per line:

    take commitStart commitEnd deliverEnd size firstQueued lastQueued

and writes them to /tmp/instdump-<pid>.txt when the engine closes.

Usage: committer-batches.py DUMP

It drops the first 35% and the last 10% of the batches (warm-up and
shutdown) and prints the batch sizes, the waits and the disk's busy share.
"""
import sys, statistics as st
rows=[list(map(int,l.split())) for l in open(sys.argv[1])]
# drop first 30% and last 10% (warm-up/shutdown)
n=len(rows); rows=rows[int(n*0.35):int(n*0.9)]
def q(xs,p): xs=sorted(xs); return xs[int(len(xs)*p)] if xs else 0
us=lambda x: x/1000
sizes=[r[4] for r in rows]
print("batches",len(rows),"size mean %.2f"%st.mean(sizes), "hist", {k:sizes.count(k) for k in sorted(set(sizes))})
waitmax=[us(r[0]-r[5]) for r in rows]; waitmin=[us(r[0]-r[6]) for r in rows]
print("take - earliest submit p50 %.0f  take - latest submit p50 %.0f"%(q(waitmax,.5),q(waitmin,.5)))
print("take->cstart p50 %.1f"%q([us(r[1]-r[0]) for r in rows],.5))
c=[us(r[2]-r[1]) for r in rows]; print("commit p50 %.0f p90 %.0f mean %.0f"%(q(c,.5),q(c,.9),st.mean(c)))
d=[us(r[3]-r[2]) for r in rows]; print("deliver p50 %.0f p90 %.0f"%(q(d,.5),q(d,.9)))
g=[us(rows[i][0]-rows[i-1][3]) for i in range(1,len(rows))]; print("prev deliver end -> take p50 %.1f p90 %.1f"%(q(g,.5),q(g,.9)))
# submit spread within batch
sp=[us(r[6]-r[5]) for r in rows]; print("submit spread in batch p50 %.0f"%q(sp,.5))
# per-edit server latency approx: from submit to deliver end; use min/max
lat=[us(r[3]-r[5]) for r in rows]+[us(r[3]-r[6]) for r in rows]; print("submit->delivered p50 approx %.0f"%q(lat,.5))
# where was the submit relative to previous batch's commit: submits during previous commit?
dur=[(rows[i-1][1],rows[i-1][2]) for i in range(1,len(rows))]
ins=sum(1 for i in range(1,len(rows)) if rows[i-1][1]<=rows[i][6]<=rows[i-1][3])
print("batches whose latest submit fell during prev commit+deliver: %d of %d"%(ins,len(rows)-1))
idle=[us(rows[i][1]-rows[i-1][2]) for i in range(1,len(rows))]; print("disk idle between commits p50 %.0f p90 %.0f; busy fraction %.2f"%(q(idle,.5),q(idle,.9), sum(c)/ (sum(c)+sum(idle))))
