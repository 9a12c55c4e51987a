#!/usr/bin/env python3
"""Summarize a writers-series.sh directory: per binary, the median
commits/s (and every run's), p50/p99, the disk probe, the server's CPU per
edit, the records per store commit and CPU per operation in the 4 s
/metrics window, how many runs had an edit wait >= 1 s, and the ratio to
the first binary named on the command line (default: the first in name
order), as a ratio of medians and as the median of the per-round ratios,
and each run's p50 and p99 against its own disk probe (median over runs).

Usage: writers-series.py OUTDIR [BASELINE-NAME]
"""
import glob
import json
import os
import re
import statistics as st
import sys


def metrics(path):
    vals = {}
    for line in open(path):
        if line.startswith('#') or not line.strip():
            continue
        key, _, value = line.rpartition(' ')
        try:
            vals[key] = float(value)
        except ValueError:
            pass
    return vals


def window(base):
    """Records per commit and CPU µs per operation between the two reads."""
    try:
        a, b = metrics(base + '.m1'), metrics(base + '.m2')
        commits = b['syncd_store_commit_records_count'] - a['syncd_store_commit_records_count']
        records = b['syncd_store_commit_records_sum'] - a['syncd_store_commit_records_sum']
        ops = b['syncd_operations_total'] - a['syncd_operations_total']
        cpu = b['process_cpu_seconds_total'] - a['process_cpu_seconds_total']
        return records / commits, 1e6 * cpu / ops
    except (OSError, KeyError, ZeroDivisionError):
        return None, None


def main(out, baseline=None):
    runs = {}
    for path in glob.glob(os.path.join(out, '*.json')):
        m = re.match(r'(.+)-(\d+)-(\d+)\.json$', os.path.basename(path))
        if not m:
            continue
        name, _, rnd = m.groups()
        r = json.load(open(path))['results'][0]['median']
        r['records'], r['cpuPerOp'] = window(path[:-5])
        runs.setdefault(name, {})[int(rnd)] = r
    if not runs:
        sys.exit('no runs in ' + out)
    baseline = baseline or sorted(runs)[0]

    def med(xs):
        xs = [x for x in xs if x is not None]
        return st.median(xs) if xs else float('nan')

    for name in sorted(runs):
        v = runs[name]
        rounds = sorted(v)
        cps = [v[i]['commitsPerSec'] for i in rounds]
        line = '%-14s commits/s %6.0f (%s) p50/p99 %.2f/%.1f ms probe p50 %.0f,%.0f µs' % (
            name, med(cps), ' '.join('%.0f' % c for c in cps),
            med(r['p50us'] for r in v.values()) / 1e3, med(r['p99us'] for r in v.values()) / 1e3,
            med(r['probeBeforeP50us'] for r in v.values()), med(r['probeAfterP50us'] for r in v.values()))
        line += ' | CPU/edit %.0f µs, records/commit %.1f, CPU/op (window) %.0f µs, runs with a >=1 s edit %d/%d' % (
            med(1e6 * r['serverCpuSec'] / r['commits'] for r in v.values() if r['commits']),
            med(r['records'] for r in v.values()), med(r['cpuPerOp'] for r in v.values()),
            sum(1 for r in v.values() if r['maxUs'] >= 1e6), len(v))
        # Issue 14's latency targets: each run's p50 and p99 against its own
        # disk probe (p50: the mean of the probes before and after the
        # workload; p99: the larger), then the median over the runs.
        line += ' | p50/probe %.2f×, p99/probe %.2f×' % (
            med(r['p50us'] / ((r['probeBeforeP50us'] + r['probeAfterP50us']) / 2) for r in v.values()),
            med(r['p99us'] / max(r['probeBeforeP99us'], r['probeAfterP99us']) for r in v.values()))
        base = runs.get(baseline)
        if name != baseline and base:
            per = [v[i]['commitsPerSec'] / base[i]['commitsPerSec'] for i in rounds if i in base and base[i]['commitsPerSec']]
            line += ' | vs %s: %.2f× (medians), %.2f× (per round), higher in %d of %d' % (
                baseline, med(cps) / med(r['commitsPerSec'] for r in base.values()), med(per),
                sum(1 for x in per if x > 1), len(per))
        print(line)


if __name__ == '__main__':
    main(*sys.argv[1:3])
