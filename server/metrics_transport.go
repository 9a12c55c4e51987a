package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/deltasync/syncd/router"
)

// routerCollector reads the router's transport counters at scrape time:
// room messages dropped for connections past their room budget, and the
// bytes held for partly received messages.
type routerCollector struct {
	router *router.Router
}

var (
	descDropped = prometheus.NewDesc("syncd_room_messages_dropped_total", "Room messages (MESSAGE) dropped for a connection whose outbound queue was past -room-queue-bytes.", nil, nil)
	descPartial = prometheus.NewDesc("syncd_partial_message_bytes", "Bytes held for partly received inbound messages, across all connections (bounded by -max-partial-bytes).", nil, nil)
)

func (c *routerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDropped
	ch <- descPartial
}

func (c *routerCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(c.router.DroppedFrames()))
	ch <- prometheus.MustNewConstMetric(descPartial, prometheus.GaugeValue, float64(c.router.PartialBytes()))
}
