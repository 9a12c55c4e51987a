package embed_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/examples/embed"
	"github.com/deltasync/syncd/internal/testenv"
	"github.com/deltasync/syncd/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEmbeddedSyncBesideTheApplication(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	app, err := embed.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hs := testenv.Serve(t, app.Handler())
	t.Cleanup(func() { app.Close() }) // after the client, before the listener (cleanups run last first)
	c := testenv.DialClient(t, hs.URL, nil)
	doc, err := c.Join(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}

	// The sync protocol works as in syncd itself.
	if _, err := doc.Merge(json.RawMessage(`{"title":"Friday game","players":{"ann":true}}`)); err != nil {
		t.Fatal(err)
	}
	if err := doc.Settled(ctx); err != nil {
		t.Fatal(err)
	}

	// The application's own RPC, on the same connection.
	var sum embed.Summary
	if err := c.Call(ctx, embed.TypeSummary, embed.SummaryRequest{Doc: "lobby"}, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Doc != "lobby" || sum.Rev != 1 || sum.Keys != 2 {
		t.Fatalf("summary %+v", sum)
	}
	err = c.Call(ctx, embed.TypeSummary, embed.SummaryRequest{Doc: "nowhere"}, &sum)
	if protocol.CodeOf(err) != protocol.CodeNotFound {
		t.Fatalf("summary of a missing document: %v", err)
	}
	err = c.Call(ctx, embed.TypeSummary, embed.SummaryRequest{Doc: "not a doc id"}, &sum)
	if protocol.CodeOf(err) != protocol.CodeInvalidArgument {
		t.Fatalf("summary with a bad id: %v", err)
	}

	// The validation hook refuses what the application forbids; the
	// client rolls the edit back and reports it.
	rejected := make(chan client.Rejection, 1)
	doc.OnReject(func(r client.Rejection) { rejected <- r })
	if _, err := doc.Merge(json.RawMessage(`{"title":"` + strings.Repeat("x", embed.MaxTitle+1) + `"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-rejected:
		if r.Code != protocol.CodeInvalidArgument {
			t.Fatalf("rejected with %s", r.Code)
		}
	case <-ctx.Done():
		t.Fatal("the long title was not rejected")
	}

	// An edit committed from Go reaches the client like any other.
	resp, err := http.Post(hs.Base+"/announce?doc=lobby&text=starts+at+8", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("announce: HTTP %d", resp.StatusCode)
	}
	if err := doc.WaitRev(ctx, 2); err != nil {
		t.Fatal(err)
	}
	var view struct {
		Title        string `json:"title"`
		Announcement string `json:"announcement"`
	}
	if err := doc.Get(&view); err != nil {
		t.Fatal(err)
	}
	if view.Title != "Friday game" || view.Announcement != "starts at 8" {
		t.Fatalf("view %+v", view)
	}

	// The application's own route lives beside syncd's.
	resp, err = http.Get(hs.Base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: HTTP %d", resp.StatusCode)
	}
}
