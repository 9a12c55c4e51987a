package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The shutdown, in three steps, each bounded, so that SIGTERM ends the
// process within Config.shutdownBound whatever clients and handlers do:
//
//  1. Drain (-drain): /readyz answers 503 while everything else serves as
//     before, so a load balancer takes syncd out of rotation before any
//     connection is told to go. /healthz (liveness) stays 200.
//  2. Connections (-shutdown-timeout): WebSockets are closed with 1001
//     "going away" (clients reconnect and resume elsewhere), new HTTP
//     connections are refused and running requests may finish. At the
//     timeout, whatever is still open is cut: connections dropped, requests
//     still running (a backup to a stalled reader, a handler stuck in a
//     long computation) lose their connection.
//  3. Data (storeCloseTimeout): the engine commits what it had accepted and
//     the store is closed; with -store nats, then the NATS connection and
//     the embedded node.
//
// If steps 2 and 3 together overrun their bound, Close gives up waiting and
// returns an error, and the process exits with work in progress. That is
// safe: every acknowledged edit was synced to disk before it was
// acknowledged, and bbolt opens a file left mid-transaction as of its last
// commit.

// storeCloseTimeout is the part of the bound left to step 3 after step 2's
// -shutdown-timeout.
const storeCloseTimeout = 5 * time.Second

// shutdownBound is how long Close takes at most.
func (c *Config) shutdownBound() time.Duration {
	return c.Drain + c.ShutdownTimeout + storeCloseTimeout
}

// Close drains (when syncd is serving), then shuts down in reverse order of
// creation. It returns within Config.shutdownBound.
func (m *Main) Close() error {
	m.drain()
	done := make(chan error, 1)
	stopped := make(chan struct{})
	m.stopped = stopped
	go func() {
		defer close(stopped)
		done <- m.shutdown()
	}()
	limit := m.Config.ShutdownTimeout + storeCloseTimeout
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		err := fmt.Errorf("shutdown did not finish within %v after the drain; exiting anyway (acknowledged edits are on disk)", limit)
		if m.Logger != nil {
			m.Logger.Error("shutdown overran its bound", "err", err)
		}
		return err
	}
}

// drain runs step 1.
func (m *Main) drain() {
	if m.server == nil || m.served == nil {
		return // not serving: Run failed, or Close was called before
	}
	m.server.Drain()
	if d := m.Config.Drain; d > 0 {
		m.Logger.Info("draining: /readyz answers 503", "for", d)
		time.Sleep(d)
	}
}

// shutdown runs steps 2 and 3.
func (m *Main) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	// Only a syncd that served says it stopped: after a failed start the
	// error is the news, and "syncd stopped" would read as a clean exit.
	served := m.served != nil
	var errs []error
	cut := false
	m.stopNATSWatch() // before the server: no cut-off during the shutdown
	// Step 2 stops accepting connections at once, while the WebSockets
	// close: the HTTP server's shutdown closes the listener and waits for
	// running requests, beside the router's (a hijacked WebSocket is not
	// the HTTP server's to wait for).
	var httpDone chan error
	if m.http != nil {
		httpDone = make(chan error, 1)
		go func(h *http.Server) { httpDone <- h.Shutdown(ctx) }(m.http)
	}
	if m.server != nil {
		if err := m.server.Shutdown(ctx); err != nil {
			cut = errors.Is(err, context.DeadlineExceeded)
			if !cut {
				errs = append(errs, err)
			}
		}
	}
	if m.pprof != nil {
		m.pprof.Close()
		m.pprof = nil
	}
	if m.http != nil {
		if err := <-httpDone; err != nil {
			// Requests still running at the timeout: cut their
			// connections, so that their writes fail and they return.
			cut = true
			m.http.Close()
		}
		if m.served != nil {
			if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
			m.served = nil
		} else if m.ln != nil {
			m.ln.Close() // Run failed between Listen and Serve
		}
		m.http = nil
	}
	if cut && m.Logger != nil {
		m.Logger.Warn("shutdown timeout: cut the connections and requests still open", "timeout", m.Config.ShutdownTimeout)
	}
	if m.engine != nil {
		errs = append(errs, m.engine.Close())
		m.engine = nil
	}
	m.stopWebhooks()
	if m.store != nil {
		errs = append(errs, m.store.Close())
		m.store = nil
	}
	// After the store: its last writes go through the connection, and the
	// node syncs them before it stops (run_nats.go).
	errs = append(errs, m.closeNATS())
	if m.Logger != nil && served {
		m.Logger.Info("syncd stopped")
	}
	return errors.Join(errs...)
}
