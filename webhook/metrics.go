package webhook

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	outbox     prometheus.Gauge
	dropped    prometheus.Counter
	deliveries *prometheus.CounterVec
}

func newMetrics(*Notifier) *metrics {
	return &metrics{
		outbox: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncd_webhook_outbox_events",
			Help: "Webhook events recorded and not yet delivered to every endpoint (bounded by -webhook-outbox-max).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_webhook_dropped_total",
			Help: "Webhook presence events dropped because the outbox was full.",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_webhook_deliveries_total",
			Help: "Webhook delivery attempts by endpoint and result (ok, failed).",
		}, []string{"endpoint", "result"}),
	}
}

// Collectors returns the notifier's metrics, for a Prometheus registry.
func (n *Notifier) Collectors() []prometheus.Collector {
	return []prometheus.Collector{n.m.outbox, n.m.dropped, n.m.deliveries}
}
