package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
)

// A client may be given several endpoints of one service (Options.URLs):
// the instances of a syncd cluster, where every instance serves every
// document with the same epoch and revisions. Failing over is then just a
// reconnect to another address: the JOIN carries (epoch, rev) and the
// pending edits are settled by the answer's outcomes (PROTOCOL.md §6.8)
// exactly as after a reconnect to the same server.
//
// The rules, kept here so that Dial, run and the docs agree:
//   - Dial tries each endpoint once, in order, and keeps the first that
//     answers HELLO.
//   - The client remembers the endpoint of its last established
//     connection (Client.URL) and starts every reconnect there, unless the
//     connection's end says that server is going away or unwell (see
//     staysAfter), when it starts at the next one.
//   - A failed attempt moves on to the next endpoint. Every attempt waits
//     the §9.3 backoff first; the backoff's exponent is the number of full
//     passes over the list, so that a client with one URL behaves exactly
//     as §9.3 says and a client with several tries each once per step of
//     the backoff, not once per several steps.

// servers returns the endpoints to try, Options.URL first, each once.
func (o *Options) servers() []string {
	var list []string
	seen := map[string]bool{}
	for _, u := range append([]string{o.URL}, o.URLs...) {
		if u == "" || seen[u] {
			continue
		}
		seen[u] = true
		list = append(list, u)
	}
	return list
}

// checkServers rejects endpoints that cannot be parsed, at Dial, rather
// than at the first failover.
func checkServers(list []string) error {
	if len(list) == 0 {
		return errors.New("client: Options.URL (or Options.URLs) is required")
	}
	for _, raw := range list {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("client: Options.URL %q: %w", raw, err)
		}
		if u.Scheme != "ws" && u.Scheme != "wss" {
			return fmt.Errorf("client: Options.URL %q: the scheme must be ws or wss", raw)
		}
	}
	return nil
}

// staysAfter reports whether, after an established connection ended with
// code, the first reconnect goes back to the same endpoint. It does when
// the server is alive and closed the connection for this client's own
// reasons (it read too slowly, sent too much or too big, went silent, or
// its token expired), because another instance would do the same. After
// anything else — a drop (1006, which a crash or a network cut looks like),
// a shutdown (1001), an overloaded or cut-off server (1011, 1012, 1013), an
// unknown code — the next endpoint is tried first; with one endpoint the
// two are the same.
func staysAfter(code int) bool {
	switch code {
	case protocol.CloseHeartbeatTimeout, protocol.CloseSlowConsumer, protocol.CloseFlood,
		protocol.CloseUnauthenticated, websocket.CloseMessageTooBig:
		return true
	}
	return false
}

// URL returns the endpoint of the current connection, or of the last one
// while the client reconnects.
func (c *Client) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.urls[c.urlIdx]
}

// dialFirst is Dial's first connection: each endpoint once, in order. A
// refusal that retrying cannot change (bad credentials) ends it at once,
// since every instance of one service would answer the same; so does the
// end of ctx. When every endpoint failed, the error of each is returned
// (joined), or the only one's as it is.
func (c *Client) dialFirst(ctx context.Context) (*session, error) {
	var errs []error
	for i, u := range c.urls {
		sess, err := c.connect(ctx, u)
		if err == nil {
			c.urlIdx = i
			return sess, nil
		}
		errs = append(errs, err)
		var de *DialError
		if !errors.As(err, &de) || de.permanent() || ctx.Err() != nil {
			return nil, err
		}
		c.log.Info("syncd client: endpoint failed", "url", de.URL, "err", err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

// reconnect connects again after an established connection ended with
// code, under the close action action. It returns the new session, or nil
// and why the client must stop.
func (c *Client) reconnect(action protocol.CloseAction, code, streak int) (*session, int, error) {
	c.mu.Lock()
	next := c.urlIdx
	c.mu.Unlock()
	if !staysAfter(code) {
		next = (next + 1) % len(c.urls)
	}
	failed := 0 // attempts that failed since the connection ended
	for {
		delay := c.backoff(action, code, (streak+failed)/len(c.urls))
		select {
		case <-time.After(delay):
		case <-c.ctx.Done():
			return nil, failed, ErrClosed
		}
		s, err := c.connect(c.ctx, c.urls[next])
		if err == nil {
			c.mu.Lock()
			c.urlIdx = next
			c.mu.Unlock()
			return s, failed, nil
		}
		if c.ctx.Err() != nil {
			return nil, failed, ErrClosed
		}
		var de *DialError
		if errors.As(err, &de) && de.permanent() || !errors.As(err, &de) {
			return nil, failed, err
		}
		failed++
		c.log.Info("syncd client: reconnect failed", "attempt", failed, "url", de.URL, "err", err)
		next = (next + 1) % len(c.urls)
		action, code = protocol.ActionReconnectBackoff, 0
	}
}
