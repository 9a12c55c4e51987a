package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/deltasync/syncd/client"
)

// A client of a syncd cluster is given every instance's URL. It keeps the
// first that answers, and when that one goes away it fails over to the
// next and resumes there: every instance has the same epochs and
// revisions, so the documents catch up with deltas and pending edits are
// applied exactly once.
func ExampleOptions_failover() {
	url, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	down := "ws://127.0.0.1:1/ws" // an instance that is down: nothing listens there
	c, err := client.Dial(ctx, client.Options{URL: down, URLs: []string{url}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("connected to the second:", c.URL() == url)
	// Output: connected to the second: true
}
