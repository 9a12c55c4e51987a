// Command tally votes on a tally kept by a syncd cluster, through any of
// its instances (examples/cluster).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/deltasync/syncd/examples/cluster"
)

func main() {
	urls := flag.String("urls", "ws://127.0.0.1:8081/ws,ws://127.0.0.1:8082/ws,ws://127.0.0.1:8083/ws", "the instances' WebSocket URLs, comma-separated")
	name := flag.String("name", "", "who votes (required)")
	doc := flag.String("doc", "tally:demo", "the tally's document")
	every := flag.Duration("every", time.Second, "time between votes")
	votes := flag.Int("votes", 0, "votes to cast (0: until interrupted)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	t, n, err := cluster.Run(ctx, cluster.Options{
		URLs: strings.Split(*urls, ","), Doc: *doc, Name: *name,
		Every: *every, Votes: *votes, Out: os.Stdout,
	})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "tally:", err)
		os.Exit(1)
	}
	fmt.Printf("cast %d votes; tally %s\n", n, t)
}
