package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/deltasync/syncd/client"
)

// DialClient connects the Go SDK to url with a backoff fit for tests
// (5 ms to 100 ms, 20 retries) and no logs; mod changes the options.
// The client is closed when the test ends.
func DialClient(t testing.TB, url string, mod func(*client.Options)) *client.Client {
	t.Helper()
	o := client.Options{URL: url, Logger: Quiet(), MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MaxRetries: 20}
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
	defer cancel()
	c, err := client.Dial(ctx, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Join joins doc with c.
func Join(t testing.TB, c *client.Client, doc string) *client.Doc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
	defer cancel()
	d, err := c.Join(ctx, doc)
	if err != nil {
		t.Fatalf("Join %s: %v", doc, err)
	}
	return d
}
