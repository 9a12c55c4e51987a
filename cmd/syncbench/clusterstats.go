package main

import (
	"bufio"
	"strconv"
	"strings"
)

// clusterCounters are a syncd cluster's store counters, summed over its
// instances (read from each one's /metrics): what a hot document costs in
// conditional appends that lost the race.
type clusterCounters struct {
	appendsOK, conflicts, rebases float64
}

// clusterMetrics are the samples clusterCounters sums, by their full
// Prometheus name with labels.
var clusterMetrics = map[string]func(c *clusterCounters, v float64){
	`syncd_cluster_appends_total{outcome="ok"}`:       func(c *clusterCounters, v float64) { c.appendsOK += v },
	`syncd_cluster_appends_total{outcome="conflict"}`: func(c *clusterCounters, v float64) { c.conflicts += v },
	`syncd_cluster_rebases_total{cause="conflict"}`:   func(c *clusterCounters, v float64) { c.rebases += v },
	`syncd_cluster_rebases_total{cause="unknown"}`:    func(c *clusterCounters, v float64) { c.rebases += v },
}

// clusterStats reads the counters of every instance of srv (zero for a
// server that has none: one instance on bolt or memory, or the relay).
func (s *serverProc) clusterStats() clusterCounters {
	var c clusterCounters
	if s == nil || s.relay {
		return c
	}
	for _, addr := range s.addrs() {
		resp, err := statsClient.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			name, val, ok := strings.Cut(line, " ")
			if !ok || !strings.HasPrefix(name, "syncd_cluster_") {
				continue
			}
			if add := clusterMetrics[name]; add != nil {
				if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					add(&c, v)
				}
			}
		}
		resp.Body.Close()
	}
	return c
}
