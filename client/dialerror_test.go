package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/server"
)

// TestDialWithoutWSPath: dialing the server's base URL (the demo page, a
// plain 200) or another page fails at once with an error that says which
// URL to use, and does not show the token.
func TestDialWithoutWSPath(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	base := strings.TrimSuffix(ev.url, "/ws")
	for _, u := range []string{base, base + "/", base + "/nothing-here"} {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		c, err := client.Dial(ctx, client.Options{URL: u, Token: "secret-token", Logger: quietLogger()})
		cancel()
		if err == nil {
			c.Close()
			t.Fatalf("Dial %s succeeded", u)
		}
		var de *client.DialError
		if !errors.As(err, &de) || de.Status == 0 {
			t.Fatalf("Dial %s: %v, want a refused upgrade", u, err)
		}
		want := "syncd serves it at /ws: set Options.URL to " + strings.TrimSuffix(u, "/") + "/ws"
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret-token") {
			t.Fatalf("Dial %s: %q, want it to say %q (and not the token)", u, err, want)
		}
	}
}
