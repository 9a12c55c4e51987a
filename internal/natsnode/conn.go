package natsnode

import (
	"log/slog"

	"github.com/nats-io/nats.go"
)

// connOptions are the options of every connection syncd makes, in process
// or to external servers: it never gives up reconnecting (an instance cut
// off from NATS recovers by itself when NATS returns), and it logs what
// happens to the connection.
func connOptions(log *slog.Logger, name string) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: closed on purpose
				log.Warn("nats: disconnected; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats: reconnected", "server", nc.ConnectedUrlRedacted(), "server_name", nc.ConnectedServerName())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []any{"err", err}
			if sub != nil {
				attrs = append(attrs, "subject", sub.Subject)
			}
			log.Error("nats: asynchronous error", attrs...)
		}),
	}
}
