package router_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// TestWsKitClientCompatibility talks to the router the way ws-kit's
// browser client (@ws-kit/client) does, and checks every server message
// against that client's strict schemas (see checkStrict): the token in
// access_token or in a "bearer." subprotocol appended to the app's own,
// meta.timestamp on every message, RPCs by correlationId answered with the
// response type or RPC_ERROR, progress as $ws:rpc-progress, __heartbeat,
// and reconnecting after a close.
func TestWsKitClientCompatibility(t *testing.T) {
	const clientID = "01HZY0J5Q8X6T9V3N2M4K7P1RW"
	ts := newServer(t, router.Options{
		Authenticate: func(a router.AuthRequest) (any, error) {
			if a.Token != "t0ken" {
				return nil, protocol.NewError(protocol.CodeUnauthenticated, "bad token")
			}
			return nil, nil
		},
	}, func(r *router.Router) {
		// rpc("GET_USER", {id}, "USER", {id, name}) in ws-kit terms.
		type getUser struct {
			ID string `json:"id"`
		}
		type user struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Bio  string `json:"bio,omitempty"`
		}
		router.HandleRPC(r, "GET_USER", "USER", func(x *router.Ctx, p getUser) (user, error) {
			if p.ID != "u1" {
				return user{}, protocol.NewError(protocol.CodeNotFound, "no such user").WithDetails(map[string]string{"id": p.ID})
			}
			x.Progress(map[string]int{"pct": 50})
			return user{ID: "u1", Name: "Ann"}, nil
		})
		router.Handle(r, "KICK", func(x *router.Ctx, _ struct{}) error {
			x.Conn().Close(protocol.CloseServiceRestart, "restarting")
			return nil
		})
	})

	for _, how := range []string{"query", "protocol"} {
		t.Run(how, func(t *testing.T) {
			o := dialOpts{query: url.Values{"clientId": {clientID}}}
			if how == "query" {
				o.query.Set("access_token", "t0ken")
			} else {
				o.protocols = []string{"app.v1", "bearer.t0ken"} // ws-kit appends by default
			}
			c := ts.dial(o)
			if how == "protocol" && c.resp.Header.Get("Sec-Websocket-Protocol") != "app.v1" {
				t.Fatalf("subprotocol %q", c.resp.Header.Get("Sec-Websocket-Protocol"))
			}

			// request(GET_USER, {id:"u1"}, USER): progress, then the reply.
			c.send("GET_USER", "6f1c2f0e-0b6a-4f59-9d1e-5d3c6a7b8c9d", map[string]string{"id": "u1"})
			if m := c.expect(protocol.TypeRPCProgress); m.CorrelationID() != "6f1c2f0e-0b6a-4f59-9d1e-5d3c6a7b8c9d" {
				t.Fatalf("%s", m.Raw)
			}
			m := c.expect("USER")
			if m.CorrelationID() != "6f1c2f0e-0b6a-4f59-9d1e-5d3c6a7b8c9d" || string(m.Payload) != `{"id":"u1","name":"Ann"}` {
				t.Fatalf("reply %s", m.Raw)
			}

			// A failing request: RPC_ERROR with ws-kit's error payload.
			c.send("GET_USER", "req-2", map[string]string{"id": "nobody"})
			m = c.expect(protocol.TypeRPCError)
			var ep map[string]json.RawMessage
			json.Unmarshal(m.Payload, &ep)
			for k := range ep {
				switch k {
				case "code", "message", "details", "retryable", "retryAfterMs":
				default:
					t.Errorf("unexpected error payload key %q", k)
				}
			}
			if m.CorrelationID() != "req-2" || string(ep["code"]) != `"NOT_FOUND"` || string(ep["message"]) != `"no such user"` ||
				string(ep["details"]) != `{"id":"nobody"}` || string(ep["retryable"]) != "false" || ep["retryAfterMs"] != nil {
				t.Fatalf("RPC_ERROR %s", m.Raw)
			}

			// Fire-and-forget with extended meta: unknown meta keys are allowed.
			c.sendRaw(`{"type":"NOTE","meta":{"timestamp":1730450000123,"traceId":"abc"},"payload":{"text":"x"}}`)
			c.sendRaw(`{"type":"__heartbeat"}`)
			c.expect(protocol.TypeHeartbeatAck)

			// The server closes (1012: restart); the client reconnects with
			// the same clientId and carries on.
			c.send("KICK", "", nil)
			code := c.closeCode()
			if code != protocol.CloseServiceRestart || !protocol.ShouldReconnect(code) {
				t.Fatalf("close %d", code)
			}
			c2 := ts.dial(o)
			c2.echo("reconnected")
			c2.ws.Close()
		})
	}
}
