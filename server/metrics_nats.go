package server

import "github.com/prometheus/client_golang/prometheus"

// NATSState is the state of an instance's link to NATS (-store nats), as
// its metrics show it. The server never imports NATS: cmd/syncd reads
// the connection and the embedded node and hands it this.
type NATSState struct {
	// Connected: the connection is up now. Reconnects counts the times it
	// came back after a loss since it was opened.
	Connected  bool
	Reconnects uint64
	// Embedded: a NATS node runs in this process; NodeReady says it can
	// serve JetStream, and MetaLeader that it knows a JetStream meta
	// leader (in a cluster, a quorum of nodes). Both false when not
	// embedded, and then not shown.
	Embedded   bool
	NodeReady  bool
	MetaLeader bool
}

// WatchNATS adds the metrics of an instance's NATS link to m, read from
// state at each scrape. Call it once, with -store nats only.
func (m *Metrics) WatchNATS(state func() NATSState) {
	m.Registry.MustRegister(&natsCollector{state: state})
}

type natsCollector struct {
	state func() NATSState
}

var (
	descNATSConnected = prometheus.NewDesc("syncd_nats_connected",
		"1 while this instance's NATS connection is up, 0 while it is down (edits cannot be committed; /readyz says not ready). Alert when 0 for more than a few seconds.", nil, nil)
	descNATSReconnects = prometheus.NewDesc("syncd_nats_reconnects_total",
		"Times the NATS connection came back after a loss. A steady rise means the network or the NATS servers flap.", nil, nil)
	descNATSNodeReady = prometheus.NewDesc("syncd_nats_node_ready",
		"Embedded mode only: 1 while the NATS node in this process can serve JetStream (running and, in a cluster, a meta leader known).", nil, nil)
	descNATSMetaLeader = prometheus.NewDesc("syncd_nats_meta_leader",
		"Embedded mode only: 1 while this node knows a JetStream meta leader. 0 on every node means the cluster lost its quorum: no stream can change leader or be created.", nil, nil)
)

func (c *natsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNATSConnected, descNATSReconnects, descNATSNodeReady, descNATSMetaLeader} {
		ch <- d
	}
}

func (c *natsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.state()
	gauge := func(d *prometheus.Desc, on bool) {
		v := 0.0
		if on {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(descNATSConnected, s.Connected)
	ch <- prometheus.MustNewConstMetric(descNATSReconnects, prometheus.CounterValue, float64(s.Reconnects))
	if s.Embedded {
		gauge(descNATSNodeReady, s.NodeReady)
		gauge(descNATSMetaLeader, s.MetaLeader)
	}
}
