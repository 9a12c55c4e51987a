package natsbus_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/deltasync/syncd/internal/natsbus"
)

type answer struct {
	data         string
	notDelivered bool
	err          error
}

// Requests reach the server in the order sent and are answered; a subject
// nobody serves answers "not delivered" at once; a request nobody answers
// times out.
func TestRequest(t *testing.T) {
	nc1, nc2 := connect(t)
	a, err := natsbus.New(nc1, "t.bus", natsbus.Options{ID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := natsbus.New(nc2, "t.bus", natsbus.Options{ID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	unsub, err := b.Serve("fwd.b", func(data []byte, respond func([]byte)) {
		served = append(served, string(data)) // one at a time: no lock needed
		if string(data) != "silent" {
			respond([]byte("re:" + string(data)))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()

	const n = 50
	answers := make(chan answer, n+2)
	reply := func(data []byte, notDelivered bool, err error) { answers <- answer{string(data), notDelivered, err} }
	for i := range n {
		a.Request("fwd.b", []byte(fmt.Sprint(i)), 5*time.Second, reply)
	}
	got := map[string]bool{}
	for range n {
		select {
		case an := <-answers:
			if an.err != nil {
				t.Fatalf("answer: %+v", an)
			}
			got[an.data] = true
		case <-time.After(5 * time.Second):
			t.Fatal("no answer")
		}
	}
	for i := range n {
		if served[i] != fmt.Sprint(i) || !got["re:"+fmt.Sprint(i)] {
			t.Fatalf("request %d: served %q, answered %v", i, served[i], got["re:"+fmt.Sprint(i)])
		}
	}

	a.Request("fwd.nobody", []byte("x"), 5*time.Second, reply)
	if an := <-answers; !an.notDelivered || an.err == nil {
		t.Fatalf("to nobody: %+v, want not delivered", an)
	}
	a.Request("fwd.b", []byte("silent"), 50*time.Millisecond, reply)
	if an := <-answers; an.notDelivered || !errors.Is(an.err, natsbus.ErrRequestTimeout) {
		t.Fatalf("unanswered: %+v, want a timeout", an)
	}
}
