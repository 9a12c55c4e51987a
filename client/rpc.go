package client

import (
	"context"
	"encoding/json"
)

type rpcResult struct {
	payload json.RawMessage
	err     error
}

// Call sends a request of type typ with meta.correlationId and waits for
// its terminal answer (PROTOCOL.md §3.4) or the end of ctx. payload is
// encoded with its AppendJSON method if it has one, else encoding/json
// (nil: no payload). A success answer's payload is decoded into reply
// (unless nil). A refusal is a *protocol.Error carrying the server's code
// (protocol.CodeOf(err) extracts it). ErrDisconnected means the connection
// ended first, and the server may or may not have acted. Calls are not
// queued while disconnected: ErrNotConnected.
func (c *Client) Call(ctx context.Context, typ string, payload any, reply any) error {
	if err := ctx.Err(); err != nil {
		return err // never send a request whose caller has already given up
	}
	ch := make(chan rpcResult, 1)
	c.mu.Lock()
	if c.closed || c.err != nil {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.sess == nil {
		c.mu.Unlock()
		return ErrNotConnected
	}
	corr := c.nextCorrLocked("c")
	c.rpcs[corr] = ch
	if !c.sendLocked(typ, corr, payload) {
		delete(c.rpcs, corr)
		c.mu.Unlock()
		return ErrNotConnected
	}
	c.mu.Unlock()
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		if reply != nil && len(r.payload) > 0 {
			return json.Unmarshal(r.payload, reply)
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.rpcs, corr)
		c.mu.Unlock()
		return ctx.Err()
	}
}
