// Package todo is a collaborative todo list for the command line, built
// on the syncd client SDK: every person running it on the same list sees
// the others' changes as they happen, and edits made while the network is
// down are sent when it comes back.
//
// Commands, one per line: "add <text>", "done <n>", "undo <n>", "rm <n>",
// "list", "sync" (wait until the server has confirmed every edit), "quit".
// Items are numbered from 1 as "list" shows them.
//
// Run it with go run ./examples/todo/cmd/todo -url ws://127.0.0.1:8080/ws.
package todo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/deltasync/syncd/client"
)

// Options configure Run.
type Options struct {
	URL   string // the server's WebSocket endpoint; required
	List  string // the list's name; default "default"
	Token string // credentials, if the server wants them
	// Quiet turns off the lines printed when others change the list.
	Quiet bool
	// Interactive is for a person at a terminal: Run starts by showing the
	// list and the commands, and prompts ("> ") for each command.
	Interactive bool
}

// Item is one entry of the list.
type Item struct {
	Text string `json:"text"`
	Done bool   `json:"done"`
}

type list struct {
	Items []Item `json:"items"`
}

// Run joins the list and executes the commands read from in until "quit"
// or the end of in, writing to out.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	if opts.List == "" {
		opts.List = "default"
	}
	var mu sync.Mutex // serialises writes to out
	printf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, args...)
	}
	c, err := client.Dial(ctx, client.Options{
		URL: opts.URL, Token: opts.Token,
		OnReject: func(r client.Rejection) {
			printf("! not saved (%s): someone changed that item first\n", r.Code)
		},
	})
	if err != nil {
		return err
	}
	defer c.Close()
	doc, err := c.Join(ctx, "todo:"+opts.List)
	if err != nil {
		return err
	}
	if !opts.Quiet {
		doc.OnChange(func(ch client.Change) {
			if ch.Kind == client.ChangeRemote && len(ch.Patches) > 0 {
				printf("~ the list changed (revision %d)\n", ch.Rev)
			}
		})
	}
	prompt := func() {
		if opts.Interactive {
			printf("> ")
		}
	}
	if opts.Interactive {
		var cur list
		if err := doc.Get(&cur); err != nil {
			return err
		}
		printf("list %q, revision %d\n", opts.List, doc.Rev())
		printList(printf, cur.Items)
		printf("%s\n", usage)
		prompt()
	}
	sc := bufio.NewScanner(in)
	for ; sc.Scan(); prompt() {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		arg = strings.TrimSpace(arg)
		var cur list
		if err := doc.Get(&cur); err != nil {
			return err
		}
		switch cmd {
		case "":
		case "add":
			if arg == "" {
				printf("usage: add <text>\n")
				continue
			}
			if cur.Items == nil {
				// The first item creates the array.
				_, err = doc.Merge(map[string]any{"items": []Item{{Text: arg}}})
			} else {
				_, err = doc.Patch([]map[string]any{{"op": "add", "path": "/items/-", "value": Item{Text: arg}}})
			}
		case "done", "undo", "rm":
			i, ok := index(arg, len(cur.Items))
			if !ok {
				printf("no item %q\n", arg)
				continue
			}
			// The test makes the edit apply only to the item the user saw:
			// if someone else moved or changed it, the server refuses it.
			path := "/items/" + strconv.Itoa(i)
			test := map[string]any{"op": "test", "path": path, "value": cur.Items[i]}
			if cmd == "rm" {
				_, err = doc.Patch([]map[string]any{test, {"op": "remove", "path": path}})
			} else {
				_, err = doc.Patch([]map[string]any{test, {"op": "replace", "path": path + "/done", "value": cmd == "done"}})
			}
		case "list":
			printList(printf, cur.Items)
		case "sync":
			err = doc.Settled(ctx)
		case "quit":
			return nil
		default:
			printf("%s\n", usage)
		}
		if err != nil {
			printf("error: %v\n", err)
		}
	}
	return sc.Err()
}

const usage = "commands: add <text>, done <n>, undo <n>, rm <n>, list, sync, quit"

// printList prints the items numbered from 1, or "(empty)".
func printList(printf func(string, ...any), items []Item) {
	if len(items) == 0 {
		printf("(empty)\n")
	}
	for i, it := range items {
		mark := " "
		if it.Done {
			mark = "x"
		}
		printf("%d. [%s] %s\n", i+1, mark, it.Text)
	}
}

func index(arg string, n int) (int, bool) {
	i, err := strconv.Atoi(arg)
	if err != nil || i < 1 || i > n {
		return 0, false
	}
	return i - 1, true
}
