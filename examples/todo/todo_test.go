package todo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/deltasync/syncd/examples/todo"
	"github.com/deltasync/syncd/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startServer runs a real syncd server on 127.0.0.1 for the test.
func startServer(t *testing.T) string {
	t.Helper()
	return testenv.Start(t, testenv.Options{}).URL
}

func run(t *testing.T, url, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := todo.Run(ctx, todo.Options{URL: url, List: "home", Quiet: true}, strings.NewReader(script), &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	return out.String()
}

func TestTwoPeopleOneList(t *testing.T) {
	url := startServer(t)
	out := run(t, url, "add milk\nadd eggs\nadd bread\ndone 2\nsync\nlist\nquit\n")
	want := "1. [ ] milk\n2. [x] eggs\n3. [ ] bread\n"
	if out != want {
		t.Fatalf("first person sees\n%s\nwant\n%s", out, want)
	}
	// The second person finds the list as the first left it and edits it.
	out = run(t, url, "list\nrm 1\nundo 1\nsync\nlist\n")
	want = "1. [ ] milk\n2. [x] eggs\n3. [ ] bread\n1. [ ] eggs\n2. [ ] bread\n"
	if out != want {
		t.Fatalf("second person sees\n%s\nwant\n%s", out, want)
	}
	if out := run(t, url, "done 7\n"); !strings.Contains(out, "no item") {
		t.Fatalf("done 7: %q", out)
	}
}

// TestInteractiveStart: a person starting todo sees the list and the
// commands at once, and a prompt for each command, without typing first.
func TestInteractiveStart(t *testing.T) {
	url := startServer(t)
	run(t, url, "add milk\nsync\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := todo.Run(ctx, todo.Options{URL: url, List: "home", Quiet: true, Interactive: true}, strings.NewReader("quit\n"), &out); err != nil {
		t.Fatal(err)
	}
	want := "list \"home\", revision 1\n1. [ ] milk\ncommands: add <text>, done <n>, undo <n>, rm <n>, list, sync, quit\n> "
	if out.String() != want {
		t.Fatalf("start of an interactive session:\n%q\nwant\n%q", out.String(), want)
	}
}
