package client_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/internal/testenv"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
)

// TestAttemptIncreasesAcrossReconnectsAndRestarts: every upgrade request
// carries the attempt parameter, a value that increases across the
// client's reconnects and across a new Client for the same ClientID (a
// process restart), so the server can refuse an older attempt the network
// delayed (PROTOCOL.md §2.2).
func TestAttemptIncreasesAcrossReconnectsAndRestarts(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	var (
		mu       sync.Mutex
		attempts []string
		ids      []string
	)
	front := testenv.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts = append(attempts, r.URL.Query().Get("attempt"))
		ids = append(ids, r.URL.Query().Get("clientId"))
		mu.Unlock()
		ev.server.Handler().ServeHTTP(w, r)
	}))
	url := front.URL
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts)
	}

	c := dial(t, url, nil)
	id := c.ClientID()
	if c.AuthorID() != protocol.AuthorID(id) {
		t.Fatalf("AuthorID %s, want the author id of %s", c.AuthorID(), id)
	}
	// Two reconnects, forced by the server.
	for want := 2; want <= 3; want++ {
		conn, ok := ev.server.Router().Conn(id)
		if !ok {
			t.Fatal("the client is not connected")
		}
		conn.Close(protocol.CloseTryAgainLater, "reconnect, please")
		deadline := time.Now().Add(waitTimeout)
		for count() < want || c.State() != client.StateConnected {
			if time.Now().After(deadline) {
				t.Fatalf("no reconnect (%d attempts)", count())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	c.Close()
	// A new process with the same ClientID.
	c2 := dial(t, url, func(o *client.Options) { o.ClientID = id })
	if c2.ClientID() != id {
		t.Fatalf("client id %s, want %s", c2.ClientID(), id)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(attempts) < 4 {
		t.Fatalf("%d upgrade requests, want at least 4", len(attempts))
	}
	for i, a := range attempts {
		if err := revision.ValidateReqID(a); err != nil {
			t.Fatalf("attempt %d: %q: %v", i, a, err)
		}
		if i > 0 && revision.CompareReqID(a, attempts[i-1]) <= 0 {
			t.Fatalf("attempt %d (%s) is not greater than the one before (%s)", i, a, attempts[i-1])
		}
		if i > 0 && ids[i] != id {
			t.Fatalf("request %d carried clientId %q, want %s", i, ids[i], id)
		}
	}
}
