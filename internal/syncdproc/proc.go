package syncdproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long Start waits for syncd to say it is serving.
const StartTimeout = 30 * time.Second

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the path of a syncd binary built from this module without
// the race detector, building it on first use. Every test of the test
// binary shares it; it lives in the system's temporary directory.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "syncdproc-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "syncd")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/syncd")
		cmd.Dir = root
		// A child built with -race would measure the detector, not syncd.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/syncd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("syncdproc: not inside the syncd module")
	}
	return filepath.Dir(mod), nil
}

// Proc is a running syncd child process.
type Proc struct {
	// Addr is host:port it listens on; URL is http://Addr, WS ws://Addr/ws.
	Addr, URL, WS string
	// DataDir is its -data directory.
	DataDir string

	t      testing.TB
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
	err    error // Wait's result, valid once exited is closed
}

// Options for Start.
type Options struct {
	// Args are syncd's flags. -addr (127.0.0.1:0), -data (DataDir, or a
	// new temporary directory), -log-format json and -drain 0 are added
	// unless Args sets them.
	Args []string
	// DataDir is the data directory; empty: a new t.TempDir().
	DataDir string
	// Env is added to the child's environment.
	Env []string
}

var servingLine = regexp.MustCompile(`"url":"https?://([^"/]+)"`)

// Start starts syncd and waits until it serves. The process is killed when
// the test ends, if it is still running.
func Start(t testing.TB, o Options) *Proc {
	t.Helper()
	p := Launch(t, o)
	if err := p.WaitServing(StartTimeout); err != nil {
		t.Fatal(err)
	}
	return p
}

// Launch starts syncd without waiting for it to serve; [Proc.WaitServing]
// waits. Nodes of a cluster are launched together this way: each waits for
// a quorum of the others before it serves. The process is killed when the
// test ends, if it is still running.
func Launch(t testing.TB, o Options) *Proc {
	t.Helper()
	bin := Binary(t)
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	args := append([]string(nil), o.Args...)
	has := func(name string) bool {
		for _, a := range args {
			if a == "-"+name || strings.HasPrefix(a, "-"+name+"=") || a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
				return true
			}
		}
		return false
	}
	if !has("addr") {
		args = append(args, "-addr", "127.0.0.1:0")
	}
	if !has("data") {
		args = append(args, "-data", o.DataDir)
	}
	if !has("log-format") {
		args = append(args, "-log-format", "json")
	}
	if !has("drain") {
		// A test's Stop need not wait for a load balancer to notice.
		args = append(args, "-drain", "0")
	}
	p := &Proc{DataDir: o.DataDir, t: t, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(cleanEnv(), o.Env...)
	p.cmd.Stdout = p.stderr
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if p.Running() {
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// WaitServing waits up to timeout for a launched syncd to say it is
// serving, and fills in Addr, URL and WS. It returns an error (with the
// process's log) if the process exits first or the time runs out; it may
// be called from any goroutine.
func (p *Proc) WaitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if m := servingLine.FindStringSubmatch(p.stderr.String()); m != nil {
			p.Addr = m[1]
			break
		}
		select {
		case <-p.exited:
			return fmt.Errorf("syncd exited before serving (%v):\n%s", p.err, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("syncd did not serve within %v:\n%s", timeout, p.stderr.String())
		}
	}
	p.URL = "http://" + p.Addr
	p.WS = "ws://" + p.Addr + "/ws"
	return nil
}

// cleanEnv is this process's environment without SYNCD_ variables, so that
// a developer's shell does not change what a test runs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SYNCD_") {
			env = append(env, kv)
		}
	}
	return env
}

// PID is the child's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Running reports whether the process has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Log is everything the process wrote to stdout and stderr so far.
func (p *Proc) Log() string { return p.stderr.String() }

// RSS is the process's resident set size in bytes.
func (p *Proc) RSS() int64 {
	p.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		p.t.Fatalf("syncd RSS: %v (running %v)\n%s", err, p.Running(), p.Log())
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(v); len(f) >= 1 { // "123456 kB"
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	p.t.Fatalf("syncd RSS: no VmRSS in /proc/%d/status", p.PID())
	return 0
}

// RequireUp fails the test if the process has exited.
func (p *Proc) RequireUp() {
	p.t.Helper()
	if !p.Running() {
		p.t.Fatalf("syncd exited (%v):\n%s", p.err, tail(p.Log(), 4000))
	}
}

// RequireRSSBelow fails the test if the process's RSS is limit or more.
func (p *Proc) RequireRSSBelow(limit int64) {
	p.t.Helper()
	p.RequireUp()
	if rss := p.RSS(); rss >= limit {
		p.t.Fatalf("syncd RSS %d MiB, want under %d MiB", rss>>20, limit>>20)
	}
}

// Stop sends SIGTERM and waits up to timeout for the process to exit; it
// returns the exit error (nil for status 0). Past timeout it kills the
// process and fails the test.
func (p *Proc) Stop(timeout time.Duration) error {
	p.t.Helper()
	if p.Running() {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.exited
		p.t.Fatalf("syncd did not exit within %v of SIGTERM:\n%s", timeout, tail(p.Log(), 4000))
		return nil
	}
}

// Kill kills the process with SIGKILL and waits for it.
func (p *Proc) Kill() {
	if p.Running() {
		p.cmd.Process.Kill()
	}
	<-p.exited
}

// Wait waits for the process to exit, up to ctx.
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.exited:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
