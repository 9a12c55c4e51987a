#!/bin/bash
# One `syncbench fanout -subs 1000 -store nats3` run, with each instance's
# /metrics read 3 s and 6 s after the subscribers connected (inside the
# measured window of the default 2 s warm-up + 5 s), to see where a
# cluster's fan-out goes: which instance commits, how many operations per
# commit, follows per instance, edits forwarded (BENCHMARKS.md, "fanout on
# a cluster, re-measured").
#
# Usage: fanout-cluster-metrics.sh RUN-NAME SYNCBENCH SYNCD-BIN
# It runs SYNCD-BIN through a wrapper that logs at info level into
# /tmp/fanlog/<node>.log, to learn each instance's address and the
# stream's leader.
set -u
i=$1
bench=$2
export SYNCD_BIN=$3
mkdir -p /tmp/fanlog
rm -f /tmp/fanlog/*
wrap=$(mktemp /tmp/fanwrap.XXXXXX)
cat >"$wrap" <<'W'
#!/bin/bash
node=x; prev=""
for a in "$@"; do [ "$prev" = "-cluster-node" ] && node=$a; prev=$a; done
exec "$SYNCD_BIN" "$@" -log-level info 2> >(tee -a /tmp/fanlog/$node.log >&2)
W
chmod +x "$wrap"
"$bench" fanout -subs 1000 -store nats3 -server syncd -runs 1 -syncd-bin "$wrap" -out /tmp/fm-$i.json > /tmp/fm-$i.txt 2>&1 &
bp=$!
# wait until the subscribers are connected, then into the measured window
for k in $(seq 1 300); do
  u=$(grep -h -o 'url=http://[0-9.:]*' /tmp/fanlog/bench1.log 2>/dev/null | head -1 | cut -d= -f2)
  c=$(curl -s $u/metrics 2>/dev/null | grep '^syncd_connections ' | awk '{print $2}')
  [ -n "$c" ] && [ "${c%.*}" -ge 300 ] 2>/dev/null && break; sleep 0.2; done
sleep 3
for n in 1 2 3; do u=$(grep -h -o 'url=http://[0-9.:]*' /tmp/fanlog/bench$n.log | head -1 | cut -d= -f2); curl -s $u/metrics > /tmp/fm-$i-b$n.m1; done
sleep 3
for n in 1 2 3; do u=$(grep -h -o 'url=http://[0-9.:]*' /tmp/fanlog/bench$n.log | head -1 | cut -d= -f2); curl -s $u/metrics > /tmp/fm-$i-b$n.m2; done
wait $bp
rm -f "$wrap"
leader=$(grep -h 'nats stream leader' /tmp/fanlog/*.log | grep -o 'leader=[a-z0-9]*' | tail -1)
python3 - $i "$leader" <<'PY'
import json,sys
i=sys.argv[1]
def met(p):
    v={}
    for l in open(p):
        if l.startswith('#') or not l.strip(): continue
        k,_,x=l.rpartition(' ')
        try: v[k]=float(x)
        except: pass
    return v
r=json.load(open(f'/tmp/fm-{i}.json'))['results'][0]['median']
print(i, sys.argv[2], 'cpu/1k', round(1e6*r.get('serverCpuSecPer1kDeliveries',0)), 'ops/frame', round(r.get('opsPerFrame',0),1))
for n in (1,2,3):
    a,b=met(f'/tmp/fm-{i}-b{n}.m1'),met(f'/tmp/fm-{i}-b{n}.m2')
    d=lambda k: b.get(k,0)-a.get(k,0)
    ks=[k for k in b if k.startswith('syncd_messages_out_total')]
    out=sum(d(k) for k in ks)
    FM="syncd_cluster_forward_mode_documents"; fw=sum(d(k) for k in b if k.startswith("syncd_cluster_forwarded_edits_total")); rb=d("syncd_cluster_rebases_total")
    print(f"     forwarded {fw:.0f} rebases {rb:.0f} fwdmode {b.get(FM,0):.0f}")
    print("     gathers", " ".join("%s=%.0f" % (k.split("=")[1][1:-2], d(k)) for k in b if k.startswith("syncd_commit_gathers_total")))
    print(f'  bench{n}: ops {d("syncd_operations_total"):.0f} commits {d("syncd_store_commits_total"):.0f} follows {d("syncd_cluster_follows_total"):.0f} caughtup {d("syncd_cluster_caught_up_operations_total"):.0f} msgs_out {out:.0f} conns {b.get("syncd_connections",0):.0f} cpu {d("process_cpu_seconds_total"):.2f}')
PY
