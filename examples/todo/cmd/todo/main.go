// Command todo is a collaborative todo list on a syncd server; see
// package todo.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/deltasync/syncd/examples/todo"
)

func main() {
	o := todo.Options{Interactive: true}
	flag.StringVar(&o.URL, "url", "ws://127.0.0.1:8080/ws", "the syncd server's WebSocket endpoint")
	flag.StringVar(&o.List, "list", "default", "the list's name")
	flag.StringVar(&o.Token, "token", "", "access token, if the server needs one")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := todo.Run(ctx, o, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "todo:", err)
		os.Exit(1)
	}
}
