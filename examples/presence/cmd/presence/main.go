// Command presence runs the seed's meeting-participants app, rebuilt on
// syncd's router and engine (package presence), on 127.0.0.1:8081 until
// SIGINT or SIGTERM. See examples/presence/README.md.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/deltasync/syncd/examples/presence"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("presence: meeting on ws://%s/ws (Ctrl-C stops)", ln.Addr())
	if err := presence.Serve(ctx, ln, presence.Options{}); err != nil {
		log.Fatal(err)
	}
}
