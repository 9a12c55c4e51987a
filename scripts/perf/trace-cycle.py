#!/usr/bin/env python3
"""A timeline of committer cycles from a runtime trace of syncd.

BENCHMARKS.md (issue 14, fifth round). Between two of the write-ahead
log's fdatasyncs it prints every goroutine state change, with the system
call each one entered (fdatasync, write, read), in microseconds from the
first sync: where the echo writes, the reads and the decisions of one
cycle fall on the one core.

    SYNCD_PPROF_ADDR=127.0.0.1:16061 syncbench writers -clients 10 -store bolt \
        -server syncd -runs 1 -duration 7s -syncd-bin BIN &
    sleep 4.5; curl -so t.trace 'http://127.0.0.1:16061/debug/pprof/trace?seconds=1'
    go tool trace -d=parsed t.trace > t.parsed
    scripts/perf/trace-cycle.py t.parsed [FIRST-CYCLE]
"""
import re,sys
EV=re.compile(r'^M=(-?\d+) P=(-?\d+) G=(-?\d+) StateTransition Time=(\d+) (GoID|ProcID)=(\d+) (\w+)->(\w+)')
lines=open(sys.argv[1]).read().split('\n')
evs=[];i=0
while i<len(lines):
    m=EV.match(lines[i])
    if not m: i+=1; continue
    j=i+1; fr=[]
    while j<len(lines) and not lines[j].startswith('M='):
        if '@' in lines[j]: fr.append(lines[j].strip().split(' @')[0])
        j+=1
    evs.append((int(m.group(4)),m.group(5),int(m.group(6)),m.group(7),m.group(8),fr[:12], int(m.group(1)), int(m.group(3))))
    i=j
evs.sort()
def name(fr):
    s=' '.join(fr)
    for k in ['Fdatasync','pwrite','syscall.write','syscall.read','epoll','futex']:
        if k in s: return k
    for f in fr:
        if 'syncd' in f: return f.split('/')[-1][:40]
    return fr[0][:40] if fr else ''
# find fdatasync starts
starts=[k for k,e in enumerate(evs) if e[1]=='GoID' and e[3]=='Running' and e[4]=='Syscall' and 'Fdatasync' in ' '.join(e[5])]
c0=int(sys.argv[2]) if len(sys.argv)>2 else 100
for c in range(c0,c0+2):
    a,b=starts[c],starts[c+1]
    t0=evs[a][0]
    print('--- cycle',c)
    for e in evs[a:b+1]:
        if e[1]!='GoID': 
            print('%7.1f  P%s %s->%s'%((e[0]-t0)/1000,e[2],e[3],e[4])); continue
        print('%7.1f  M%-5d g%-6d %-9s->%-9s %s'%((e[0]-t0)/1000,e[6],e[2],e[3],e[4],name(e[5])))
