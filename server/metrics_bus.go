package server

import "github.com/prometheus/client_golang/prometheus"

// busKind names the kinds of cluster bus messages, the label of the bus
// message counters.
type busKind int

const (
	kindRoom      busKind = iota // room messages (PUBLISH)
	kindPresence                 // presence changes, full rooms and requests for them
	kindHeartbeat                // heartbeats and goodbyes
	kindClaim                    // connection claims
	kindForward                  // forwarded edits of contended documents (requests)
	numBusKinds
)

func (k busKind) String() string {
	return [...]string{"room", "presence", "heartbeat", "claim", "forward"}[k]
}

// busMetrics are the cluster bus's metrics, registered with the server's
// (Options.Metrics) when there is a bus; without one they do not exist.
type busMetrics struct {
	in, out       [numBusKinds]prometheus.Counter
	publishErrors prometheus.Counter
	malformed     prometheus.Counter
	instances     prometheus.Gauge
	deadInstances prometheus.Counter
	droppedDead   prometheus.Counter
	roomFull      prometheus.Counter
	replaced      prometheus.Counter
	collectors    []prometheus.Collector
}

func newBusMetrics() *busMetrics {
	in := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncd_bus_messages_in_total", Help: "Cluster bus messages received from other instances, by kind.",
	}, []string{"kind"})
	out := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncd_bus_messages_out_total", Help: "Cluster bus messages sent, by kind.",
	}, []string{"kind"})
	m := &busMetrics{
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_bus_publish_errors_total", Help: "Cluster bus messages that could not be sent (the bus connection is down).",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_bus_malformed_total", Help: "Cluster bus messages dropped because they did not decode.",
		}),
		instances: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncd_bus_instances", Help: "Other instances heard from within the peer timeout.",
		}),
		deadInstances: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_bus_dead_instances_total", Help: "Instances dropped because their heartbeats stopped (not counting goodbyes).",
		}),
		droppedDead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_bus_dropped_presence_total", Help: "Presence entries dropped because their instance died or said goodbye.",
		}),
		roomFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_bus_room_full_total", Help: "Presence values of other instances' clients not shown because the merged room was full.",
		}),
		replaced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_bus_replaced_total", Help: "Connections closed (4409) because their client id connected to another instance with a newer attempt.",
		}),
	}
	for k := busKind(0); k < numBusKinds; k++ {
		m.in[k] = in.WithLabelValues(k.String())
		m.out[k] = out.WithLabelValues(k.String())
	}
	m.collectors = []prometheus.Collector{in, out, m.publishErrors, m.malformed, m.instances, m.deadInstances, m.droppedDead, m.roomFull, m.replaced}
	return m
}

// register adds the metrics to reg. Register, not MustRegister, as for
// the router's collector: a registry shared by two servers (which
// Options.Metrics rules out) must not make New panic.
func (m *busMetrics) register(reg *prometheus.Registry) {
	for _, c := range m.collectors {
		reg.Register(c)
	}
}
