package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// exampleServer starts a syncd server on 127.0.0.1 for the examples and
// returns its WebSocket URL and a function that stops it.
func exampleServer() (string, func()) {
	st := memstore.New(memstore.Options{})
	e, err := syncd.Open(st, syncd.Options{Logger: quietLogger()})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(e, server.Options{Logger: quietLogger()})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", func() {
		srv.Shutdown(context.Background())
		hs.Close()
		e.Close()
		st.Close()
	}
}

func Example() {
	url, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, client.Options{URL: url})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	doc, err := c.Join(ctx, "lists:groceries")
	if err != nil {
		log.Fatal(err)
	}
	// Edits apply to the view at once; the server confirms them later.
	doc.Merge(map[string]any{"title": "Groceries"})
	doc.Patch(`[{"op":"add","path":"/items","value":["milk"]}]`)
	if err := doc.Settled(ctx); err != nil {
		log.Fatal(err)
	}
	var v struct {
		Title string   `json:"title"`
		Items []string `json:"items"`
	}
	doc.Get(&v)
	fmt.Println(v.Title, v.Items, "at revision", doc.Rev())
	// Output: Groceries [milk] at revision 2
}

func ExampleDoc_OnReject() {
	url, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, client.Options{URL: url})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	doc, _ := c.Join(ctx, "notes")
	done := make(chan struct{})
	doc.OnReject(func(r client.Rejection) {
		fmt.Println("refused:", r.Code)
		close(done)
	})
	// Each edit fits in a message, but together they would make the
	// document larger than the server allows (1 MiB): the server refuses
	// the second, and it is rolled back from the view.
	doc.Merge(map[string]string{"a": strings.Repeat("x", 600_000)})
	doc.Merge(map[string]string{"big": strings.Repeat("x", 600_000)})
	select {
	case <-done:
	case <-ctx.Done():
		log.Fatal("no refusal")
	}
	doc.Settled(ctx)
	_, hasBig := doc.View().(map[string]any)["big"]
	fmt.Println("still in the view:", hasBig)
	// Output:
	// refused: INVALID_ARGUMENT
	// still in the view: false
}

func ExampleClient_Call() {
	url, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, client.Options{URL: url})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// A message type the server does not know is refused with a code.
	err = c.Call(ctx, "REPORT.EXPORT", map[string]string{"format": "csv"}, nil)
	fmt.Println(protocol.CodeOf(err))
	// Output: UNIMPLEMENTED
}
