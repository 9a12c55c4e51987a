package natsnode

import (
	"context"
	"fmt"
	"log/slog"
)

// serverLogger passes the NATS server's logs to slog. The server's notices
// go to debug: they include a banner of some twenty lines at each start,
// and the node logs what matters of a start itself (node.go). A fatal
// error (a route port that cannot be listened on, for instance: the server
// reports it and carries on without routes) is logged and handed to Start,
// which fails at once instead of waiting for its deadline.
type serverLogger struct {
	log   *slog.Logger
	fatal chan error // capacity 1: the first fatal error, for Start
}

func newServerLogger(log *slog.Logger) *serverLogger {
	return &serverLogger{log: log, fatal: make(chan error, 1)}
}

func (l *serverLogger) logf(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) {
		return // spare the formatting of the many debug lines
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (l *serverLogger) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.logf(slog.LevelDebug-4, format, v) }

// Fatalf never exits the process, unlike the server's own logger: syncd
// shuts down in order (cmd/syncd/shutdown.go).
func (l *serverLogger) Fatalf(format string, v ...any) {
	err := fmt.Errorf(format, v...)
	l.log.Error("nats server: fatal: " + err.Error())
	select {
	case l.fatal <- err:
	default:
	}
}
