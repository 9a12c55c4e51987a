// Command syncd runs the syncd server: shared JSON documents kept in sync
// over WebSockets, stored in an embedded bbolt file.
//
//	go run ./cmd/syncd                 listen on 127.0.0.1:8080, data in ./data
//	go run ./cmd/syncd -h              every flag, with its environment variable
//	go run ./cmd/syncd backup -h       the maintenance commands: backup, restore,
//	                                   inspect, compact (cmd_*.go)
//
// Every flag can also be set by an environment variable: SYNCD_ and the
// flag's name in capitals with "-" as "_" (SYNCD_JWT_SECRET for
// -jwt-secret). A flag on the command line wins.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if cmd, ok := lookupCommand(os.Args[1:]); ok {
		os.Exit(cmd.run(ctx, os.Args[2:], os.Stdout, os.Stderr))
	}
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:], os.Getenv); err != nil {
		if err == errHelp {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "syncd:", err)
		os.Exit(2)
	}
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "syncd:", err)
		os.Exit(1)
	}
	<-ctx.Done()
	stop() // a second signal now kills the process the default way
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "syncd: shutdown:", err)
		os.Exit(1)
	}
}
