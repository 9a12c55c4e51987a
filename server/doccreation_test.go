package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// refusedCreation sends a JOIN of doc that must be refused by the creation
// rate limit: RESOURCE_EXHAUSTED naming doc, with a retryAfterMs near the
// time one token takes to come back (60s / perMinute), and no document made.
func refusedCreation(t *testing.T, ev *env, c *client, doc string, perMinute int) {
	t.Helper()
	c.send(protocol.TypeJoin, map[string]any{"doc": doc})
	p := c.expectError(protocol.CodeResourceExhausted)
	var det struct {
		Doc string `json:"doc"`
	}
	if err := json.Unmarshal(p.Details, &det); err != nil || det.Doc != doc {
		t.Errorf("details %s, want {doc: %q}", p.Details, doc)
	}
	interval := time.Minute / time.Duration(perMinute)
	if p.RetryAfterMs == nil || *p.RetryAfterMs <= 0 || time.Duration(*p.RetryAfterMs)*time.Millisecond > interval {
		t.Errorf("retryAfterMs %v, want within (0, %v]", p.RetryAfterMs, interval)
	}
	if _, err := ev.engine.State(t.Context(), doc); syncd.CodeOf(err) != syncd.CodeNotFound {
		t.Errorf("%s after the refused JOIN: %v, want not found", doc, err)
	}
}

// TestDocCreationRateLimitPerConnection: a connection creates at most
// DocsPerMinute documents at once (HELLO says how many); the next JOIN of
// a new id is refused and creates nothing, while joining a document that
// exists, and creating one from another connection, still work.
func TestDocCreationRateLimitPerConnection(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{DocsPerMinute: 3}})
	ev.commit("exists", map[string]any{"x": 1})

	c := ev.dial("")
	if got := c.hello.Limits[protocol.LimitDocsCreatedPerMinute]; got != 3 {
		t.Errorf("HELLO.limits.%s = %d, want 3", protocol.LimitDocsCreatedPerMinute, got)
	}
	for _, doc := range []string{"new/1", "new/2", "new/3"} {
		c.join(doc)
		c.send(protocol.TypeLeave, map[string]any{"doc": doc})
	}
	refusedCreation(t, ev, c, "new/4", 3)
	c.join("exists") // not a creation: not limited
	c.alive()

	other := ev.dial("")
	other.join("new/4")
}

// TestDocCreationRateLimitPerUser: with authentication, a user's
// connections share UserDocsPerMinute; another user is not affected.
func TestDocCreationRateLimitPerUser(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{
		JWTSecret: []byte(jwtSecret),
		Limits:    server.Limits{DocsPerMinute: 10, UserDocsPerMinute: 2},
	})
	ada := token(t, jwtSecret, "ada", nil, time.Hour)
	c1 := ev.dialWith(dialOpts{token: ada})
	c2 := ev.dialWith(dialOpts{token: ada})
	c1.join("ada/1")
	c2.join("ada/2")
	refusedCreation(t, ev, c2, "ada/3", 2)
	refusedCreation(t, ev, c1, "ada/3", 2)

	bob := ev.dialWith(dialOpts{token: token(t, jwtSecret, "bob", nil, time.Hour)})
	bob.join("bob/1")
	bob.join("ada/1") // exists: joining it creates nothing
}
