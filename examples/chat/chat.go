// Package chat is a chat room for the command line on the syncd client
// SDK. The conversation is a syncd document (so a newcomer reads the
// history, and lines typed while the network is down are sent when it
// comes back); who is in the room is presence.
//
// Every line typed is posted; "/who" lists the people in the room and
// "/quit" leaves. People coming and going are announced ("* bob joined",
// "* bob left").
//
// Run it with go run ./examples/chat/cmd/chat -name ada -room lobby.
package chat

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/deltasync/syncd/client"
)

// Options configure Run.
type Options struct {
	URL   string // the server's WebSocket endpoint; required
	Room  string // default "lobby"
	Name  string // shown beside your lines; default "anonymous"
	Token string // credentials, if the server wants them
}

// Line is one posted line, as stored in the document.
type Line struct {
	ID   string `json:"id"` // the author's client id and the edit's request id
	From string `json:"from"`
	Text string `json:"text"`
}

type room struct {
	Lines []Line `json:"lines"`
}

// Run joins the room, prints its history and every new line of others,
// and posts the lines read from in until "/quit" or the end of in.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	if opts.Room == "" {
		opts.Room = "lobby"
	}
	if opts.Name == "" {
		opts.Name = "anonymous"
	}
	c, err := client.Dial(ctx, client.Options{URL: opts.URL, Token: opts.Token})
	if err != nil {
		return err
	}
	defer c.Close()
	doc, err := c.Join(ctx, "chat:"+opts.Room)
	if err != nil {
		return err
	}
	if err := doc.SetPresence(ctx, map[string]string{"name": opts.Name}); err != nil {
		return err
	}

	// printed remembers the lines already shown, by id: a line's index can
	// change while edits are rebased, its id cannot.
	var mu sync.Mutex
	printed := map[string]bool{}
	show := func(mine bool) {
		var r room
		if doc.Get(&r) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, l := range r.Lines {
			if printed[l.ID] {
				continue
			}
			printed[l.ID] = true
			if !mine || !strings.HasPrefix(l.ID, c.AuthorID()+"/") {
				fmt.Fprintf(out, "%s: %s\n", l.From, l.Text)
			}
		}
	}
	show(false) // the history
	doc.OnChange(func(ch client.Change) { show(true) })
	announceComings(doc, c.ClientID(), func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, args...)
	})

	sc := bufio.NewScanner(in)
	seq := 0
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		switch text {
		case "":
			continue
		case "/quit":
			return doc.Settled(ctx)
		case "/who":
			var names []string
			for _, p := range doc.Presence() {
				names = append(names, presenceName(p))
			}
			slices.Sort(names)
			mu.Lock()
			fmt.Fprintf(out, "* here: %s\n", strings.Join(names, ", "))
			mu.Unlock()
			continue
		}
		seq++
		line := Line{ID: fmt.Sprintf("%s/%d", c.AuthorID(), seq), From: opts.Name, Text: text}
		var cur room
		if err := doc.Get(&cur); err != nil {
			return err
		}
		if cur.Lines == nil {
			_, err = doc.Merge(map[string]any{"lines": []Line{line}})
		} else {
			_, err = doc.Patch([]map[string]any{{"op": "add", "path": "/lines/-", "value": line}})
		}
		if err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return doc.Settled(ctx)
}

// announceComings prints "* <name> joined" and "* <name> left" as people
// enter and leave the room (their presence appears and goes), from the room
// as it is now on; me is this client, never announced.
func announceComings(doc *client.Doc, me string, printf func(string, ...any)) {
	var mu sync.Mutex
	known := map[string]string{} // client id → name
	for id, p := range doc.Presence() {
		known[id] = presenceName(p)
	}
	doc.OnPresence(func(room map[string]json.RawMessage) {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range slices.Sorted(maps.Keys(room)) {
			if _, ok := known[id]; !ok {
				known[id] = presenceName(room[id])
				if id != me {
					printf("* %s joined\n", known[id])
				}
			}
		}
		for _, id := range slices.Sorted(maps.Keys(known)) {
			if _, ok := room[id]; !ok {
				if id != me {
					printf("* %s left\n", known[id])
				}
				delete(known, id)
			}
		}
	})
}

// presenceName is the name in a presence value, or "someone".
func presenceName(p json.RawMessage) string {
	var v struct{ Name string }
	if json.Unmarshal(p, &v) != nil || v.Name == "" {
		return "someone"
	}
	return v.Name
}
