package main

import "github.com/prometheus/client_golang/prometheus"

// registerNATSMetrics adds the metric of the NATS watchdog (nats_watch.go)
// to reg: whether this instance's embedded node leads the stream, which
// operators look for when they plan to stop a node (its stop costs an
// election) or read one node's load. Only for an embedded node: with
// external NATS no instance is a NATS node. The cluster's other metrics
// are the server's (server/metrics*.go).
func (m *Main) registerNATSMetrics(reg *prometheus.Registry) {
	if m.Config.Store != "nats" || !m.Config.Cluster.embedded() {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "syncd_nats_stream_leader",
		Help: "1 while this instance's embedded NATS node leads the document stream (as of the watchdog's last probe), else 0.",
	}, func() float64 {
		if m.leadsStream() {
			return 1
		}
		return 0
	}))
}
