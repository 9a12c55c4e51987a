package chat_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/deltasync/syncd/examples/chat"
	"github.com/deltasync/syncd/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startServer(t *testing.T) string {
	t.Helper()
	return testenv.Start(t, testenv.Options{}).URL
}

// person runs a chat session fed through a pipe.
type person struct {
	in   *io.PipeWriter
	out  *testenv.LogBuffer
	done chan error
}

func join(ctx context.Context, url, name string) *person {
	r, w := io.Pipe()
	p := &person{in: w, out: &testenv.LogBuffer{}, done: make(chan error, 1)}
	go func() { p.done <- chat.Run(ctx, chat.Options{URL: url, Room: "test", Name: name}, r, p.out) }()
	return p
}

func (p *person) say(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

func (p *person) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %q; output:\n%s", s, p.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestChat(t *testing.T) {
	url := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ada := join(ctx, url, "ada")
	ada.say(t, "hello, anyone?")
	ada.say(t, "/who")
	ada.waitFor(t, "* here: ada")
	bob := join(ctx, url, "bob")
	bob.waitFor(t, "ada: hello, anyone?") // the history
	ada.waitFor(t, "* bob joined")
	bob.say(t, "hi ada")
	ada.waitFor(t, "bob: hi ada")
	bob.say(t, "/who")
	bob.waitFor(t, "* here: ada, bob")
	ada.say(t, "/quit")
	bob.waitFor(t, "* ada left")
	bob.in.Close()
	for _, p := range []*person{ada, bob} {
		if err := <-p.done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	if strings.Contains(bob.out.String(), "* ada joined") || strings.Contains(bob.out.String(), "* bob") {
		t.Fatalf("bob announced someone already there, or himself:\n%s", bob.out.String())
	}
	if strings.Contains(ada.out.String(), "ada: hello") {
		t.Fatalf("ada's own line echoed:\n%s", ada.out.String())
	}
}
