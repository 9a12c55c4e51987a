// Command chat is a chat room on a syncd server; see package chat.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/deltasync/syncd/examples/chat"
)

func main() {
	var o chat.Options
	flag.StringVar(&o.URL, "url", "ws://127.0.0.1:8080/ws", "the syncd server's WebSocket endpoint")
	flag.StringVar(&o.Room, "room", "lobby", "the room")
	flag.StringVar(&o.Name, "name", "anonymous", "your name")
	flag.StringVar(&o.Token, "token", "", "access token, if the server needs one")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := chat.Run(ctx, o, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}
