package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// serverProc is the server under test, a child process. A nil or pid-0
// serverProc (a server in this process, in tests) measures nothing.
type serverProc struct {
	cmd     *exec.Cmd
	pid     int
	addr    string
	relay   bool
	dataDir string
}

// syncdFlags are the limits syncd must lift for a load generator: its
// defaults are per-connection flood guards for real clients (200
// messages/s, 100 UPDATEs/s, 8 MiB queued), which one benchmark writer
// sending as fast as acknowledged would hit at once.
var syncdFlags = []string{
	"-rate", "1000000",
	"-update-rate", "1000000",
	"-queue-bytes", strconv.Itoa(256 << 20),
	"-log-level", "warn",
}

// startServer starts syncd (store "bolt" or "memory") or the relay on a
// free loopback port, pinned to CPU 0 when pin is set, and waits until it
// accepts connections.
func startServer(ctx context.Context, kind, store, syncdBin string, pin bool) (*serverProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &serverProc{addr: addr, relay: kind == "relay"}
	var args []string
	switch kind {
	case "relay":
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		args = []string{self, "relay", "-addr", addr}
	case "syncd":
		s.dataDir, err = os.MkdirTemp("", "syncbench-data-")
		if err != nil {
			return nil, err
		}
		args = append([]string{syncdBin, "-addr", addr, "-store", store, "-data", s.dataDir}, syncdFlags...)
	default:
		return nil, fmt.Errorf("unknown server %q (want syncd or relay)", kind)
	}
	if pin && haveTaskset() {
		args = append([]string{"taskset", "-c", "0"}, args...)
	}
	s.cmd = exec.Command(args[0], args[1:]...) // not CommandContext: stop ends it
	s.cmd.Stdout = os.Stderr
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		s.stop()
		return nil, err
	}
	s.pid = s.cmd.Process.Pid // taskset execs the server: same pid
	for end := time.Now().Add(20 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		if time.Now().After(end) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("%s did not start on %s: %w", kind, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server: SIGTERM (syncd shuts down cleanly), then SIGKILL
// after 10 s.
func (s *serverProc) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	}
	if s.dataDir != "" {
		os.RemoveAll(s.dataDir)
	}
}

func (s *serverProc) cpu() (float64, error) {
	if s == nil || s.pid == 0 {
		return 0, nil
	}
	return procCPU(s.pid)
}

func (s *serverProc) rss() (int64, error) {
	if s == nil || s.pid == 0 {
		return 0, nil
	}
	return procRSS(s.pid)
}

var statsClient = http.Client{Timeout: 2 * time.Second}

// relayStats reads the relay's counters (zero for syncd).
func (s *serverProc) relayStats() relayStats {
	var st relayStats
	if s == nil || !s.relay {
		return st
	}
	resp, err := statsClient.Get("http://" + s.addr + "/stats")
	if err != nil {
		return st
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&st)
	return st
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func haveTaskset() bool {
	_, err := exec.LookPath("taskset")
	return err == nil
}

// pinSelf moves every thread of this process to CPU 1; threads created
// later inherit it.
func pinSelf() error {
	if !haveTaskset() {
		return fmt.Errorf("no taskset: not pinned")
	}
	return exec.Command("taskset", "-a", "-p", "-c", "1", strconv.Itoa(os.Getpid())).Run()
}

// buildSyncd builds cmd/syncd into dir with the go tool (run from inside
// the module).
func buildSyncd(dir string) (string, error) {
	bin := filepath.Join(dir, "syncd")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/deltasync/syncd/cmd/syncd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build cmd/syncd: %w", err)
	}
	return bin, nil
}
