// Package cluster is the client side of a syncd cluster: a tally that
// several people keep on one document, each through whichever instance of
// the cluster answers. The client is given every instance's URL; when its
// instance dies it moves to another and resumes with the edits it missed
// (the same epoch and revisions on every instance), and edits made in
// between are sent there, each applied once.
//
// The README beside this file starts three syncd processes as one cluster
// on this machine; then
//
//	go run ./examples/cluster/cmd/tally -name ann \
//	    -urls ws://127.0.0.1:8081/ws,ws://127.0.0.1:8082/ws,ws://127.0.0.1:8083/ws
//
// counts one vote a second for "ann" and prints the tally as it changes.
package cluster

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deltasync/syncd/client"
)

// Options configure Run.
type Options struct {
	// URLs are the WebSocket endpoints of the cluster's instances.
	URLs []string
	// Doc is the tally's document (default "tally:demo").
	Doc string
	// Name is who votes: the member of the tally this client counts.
	Name string
	// Every is the time between votes (default 1 s); Votes how many to
	// cast (0: until ctx ends).
	Every time.Duration
	Votes int
	// Out receives a line for every change of the tally (nil: none).
	Out io.Writer
}

// Tally is a document of vote counts by name.
type Tally map[string]int

// String is the tally in name order, e.g. "ann=3 bob=5".
func (t Tally) String() string {
	var b strings.Builder
	for i, name := range slices.Sorted(maps.Keys(t)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", name, t[name])
	}
	return b.String()
}

// Run joins the tally and votes for opts.Name until it has cast
// opts.Votes votes or ctx ends, then waits (up to ctx) until the cluster
// has acknowledged every vote, and returns the tally as it then stands
// (when ctx ends first: as this client sees it, its votes not yet
// acknowledged included) with the number of votes it cast; an error if the cluster refused a vote
// (one overtaken by a later vote of the same voter does not count).
//
// Each vote sets the voter's own count (a merge patch {"ann": 4}), so
// votes of different people never conflict, and a vote made while no
// instance answers is kept and sent on reconnection.
func Run(ctx context.Context, opts Options) (Tally, int, error) {
	if opts.Doc == "" {
		opts.Doc = "tally:demo"
	}
	if opts.Every <= 0 {
		opts.Every = time.Second
	}
	if opts.Name == "" || len(opts.URLs) == 0 {
		return nil, 0, fmt.Errorf("cluster.Run: Name and URLs are required")
	}
	c, err := client.Dial(ctx, client.Options{URLs: opts.URLs})
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	doc, err := c.Join(ctx, opts.Doc)
	if err != nil {
		return nil, 0, err
	}
	// A vote the cluster refused for good (or whose outcome the client
	// could not learn) is not counted: Run reports it rather than return a
	// tally that silently lacks it.
	var refusedMu sync.Mutex
	var refused []client.Rejection
	doc.OnReject(func(r client.Rejection) {
		if r.Code == client.CodeSuperseded {
			return // a later vote of ours set it again: nothing lost
		}
		refusedMu.Lock()
		refused = append(refused, r)
		refusedMu.Unlock()
		if opts.Out != nil {
			fmt.Fprintf(opts.Out, "a vote was refused: %s %s\n", r.Code, r.Message)
		}
	})
	doc.OnChange(func(ch client.Change) {
		if opts.Out == nil {
			return
		}
		var t Tally
		if doc.Get(&t) == nil {
			fmt.Fprintf(opts.Out, "rev %d via %s: %s\n", ch.Rev, c.URL(), t)
		}
	})
	var t Tally
	if err := doc.Get(&t); err != nil {
		return nil, 0, err
	}
	mine := t[opts.Name]
	votes := 0
	tick := time.NewTicker(opts.Every)
	defer tick.Stop()
	for opts.Votes == 0 || votes < opts.Votes {
		select {
		case <-ctx.Done():
			// The tally as it stands now, with this voter's votes (not
			// the one read at the JOIN: Ctrl-C printed that).
			var now Tally
			if doc.Get(&now) == nil {
				t = now
			}
			return t, votes, ctx.Err()
		case <-tick.C:
		}
		mine++
		if _, err := doc.Merge(map[string]int{opts.Name: mine}); err != nil {
			return nil, votes, err
		}
		votes++
	}
	if err := doc.Settled(ctx); err != nil {
		// Say where it stuck: a vote not acknowledged, or no instance
		// that took the document back.
		return nil, votes, fmt.Errorf("%d votes not acknowledged, client %v at %s, document at rev %d: %w",
			doc.Pending(), c.State(), c.URL(), doc.Rev(), err)
	}
	if err := doc.Get(&t); err != nil {
		return nil, votes, err
	}
	refusedMu.Lock()
	defer refusedMu.Unlock()
	if len(refused) > 0 {
		r := refused[0]
		return t, votes, fmt.Errorf("cluster.Run: %d of %d votes refused; the first: %s %s", len(refused), votes, r.Code, r.Message)
	}
	return t, votes, nil
}
