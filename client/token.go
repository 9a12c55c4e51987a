package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/deltasync/syncd/protocol"
)

// Tokens that outlive their exp (PROTOCOL.md §4.10): the server closes a
// connection with 4401 at its token's exp plus a leeway, unless the client
// sent AUTH.REFRESH with a newer token first. With Options.TokenSource the
// client does this by itself: it asks for a token before every connection,
// and while connected, at three quarters of the token's remaining life,
// asks again and sends AUTH.REFRESH. Without it, RefreshToken does it by
// hand.

// minRefreshWait keeps a failing TokenSource from being called in a tight
// loop as exp nears.
const minRefreshWait = time.Second

// currentToken returns the token for a new connection.
func (c *Client) currentToken(ctx context.Context) (string, error) {
	if c.opts.TokenSource != nil {
		return c.opts.TokenSource(ctx)
	}
	return c.opts.Token, nil
}

// tokenExpiry reads a JWT's exp without verifying the token (only the
// server can do that); zero when there is none or it cannot be read.
func tokenExpiry(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(data, &claims) != nil {
		return time.Time{}
	}
	exp, err := claims.Exp.Float64()
	if err != nil || exp <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(exp), 0)
}

// RefreshToken sends AUTH.REFRESH with token and waits for the answer. On
// success the server holds the connection to token's claims and exp, which
// it returns (zero: the token has no exp). The token must be the same
// user's: another user's is refused with PERMISSION_DENIED, an invalid one
// UNAUTHENTICATED (*protocol.Error), and the old token still holds. A
// joined document the new token may not read is taken away by the server:
// it stops being live (its edits wait for a re-join, tried on the next
// connection). The token applies to this connection only: for reconnects,
// set Options.TokenSource (or Options.Token).
func (c *Client) RefreshToken(ctx context.Context, token string) (time.Time, error) {
	var ok protocol.AuthRefreshOK
	if err := c.Call(ctx, protocol.TypeAuthRefresh, protocol.AuthRefresh{Token: token}, &ok); err != nil {
		return time.Time{}, err
	}
	if ok.Exp == 0 {
		return time.Time{}, nil
	}
	return time.Unix(ok.Exp, 0), nil
}

// refresher keeps sess's token fresh until the session ends. It runs only
// with Options.TokenSource and a token that has an exp.
func (c *Client) refresher(sess *session, exp time.Time) {
	defer c.wg.Done()
	for !exp.IsZero() {
		wait := max(time.Until(exp)*3/4, minRefreshWait)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-sess.done:
			timer.Stop()
			return
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.DialTimeout)
		newExp, err := c.refreshFrom(ctx)
		cancel()
		if err != nil {
			// The old token holds until exp: try again, closer to it. Past
			// it the server closes with 4401 and the reconnect asks the
			// TokenSource afresh.
			c.log.Warn("syncd client: token refresh failed", "err", err, "exp", exp)
			continue
		}
		exp = newExp
	}
}

func (c *Client) refreshFrom(ctx context.Context) (time.Time, error) {
	token, err := c.opts.TokenSource(ctx)
	if err != nil {
		return time.Time{}, err
	}
	return c.RefreshToken(ctx, token)
}
