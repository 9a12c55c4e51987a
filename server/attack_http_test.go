package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deltasync/syncd/internal/syncdproc"
)

// Regression tests for the HTTP side of the issue (items 8, 9, 10 and 14):
// a stalled backup reader, idle keep-alive connections, slow request
// bodies, the drain and the bounded shutdown, each against a real syncd
// child process over real sockets on 127.0.0.1. Timeouts are made short by
// flags so that the tests stay quick.

const attackAPIKey = "attack-api-key"

// procRSSLimit is the resident memory these tests allow syncd. It idles
// at about 20 MiB; the backup test's database is about 16 MiB, mapped.
const procRSSLimit = 150 << 20

// rawConn connects to p with a plain TCP socket. rcvBuf > 0 sets a small
// receive buffer before connecting (so that the kernel does not grow it),
// to make a client that stops reading stall the server's writes quickly.
func rawConn(t *testing.T, p *syncdproc.Proc, rcvBuf int) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: readTimeout}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reads from c (discarding what arrives) until the server
// closes it; it fails the test if that takes longer than d. It returns the
// bytes read.
func closedWithin(t *testing.T, c net.Conn, d time.Duration, what string) int64 {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(d))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: connection still open after %v", what, time.Since(start).Round(time.Millisecond))
	}
	return n
}

// apiEdit commits patch to doc through the HTTP API and returns the new
// revision and how long the request took.
func apiEdit(t *testing.T, p *syncdproc.Proc, doc string, patch any) (int64, time.Duration) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"patch": patch})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", p.URL+"/v1/docs/"+doc+"/edits", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-Key", attackAPIKey)
	hc := http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	resp, err := hc.Do(req)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("edit %s: %v (after %v)", doc, err, took)
	}
	defer resp.Body.Close()
	var out struct {
		Operation struct {
			Rev int64 `json:"rev"`
		} `json:"operation"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("edit %s: HTTP %d, %v", doc, resp.StatusCode, err)
	}
	return out.Operation.Rev, took
}

// apiRev reads doc's revision through the HTTP API.
func apiRev(t *testing.T, p *syncdproc.Proc, doc string) int64 {
	t.Helper()
	req, _ := http.NewRequest("GET", p.URL+"/v1/docs/"+doc, nil)
	req.Header.Set("X-API-Key", attackAPIKey)
	hc := http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Rev int64 `json:"rev"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Rev
}

func dbSize(t *testing.T, p *syncdproc.Proc) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(p.DataDir, "syncd.db"))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestAttackStalledBackupDoesNotBlockCommits: a backup client that reads
// the response headers and then stops reading must not stall commits, even
// the ones that grow the database file (item 8). Before the fix, the backup
// streamed out of a bbolt read transaction; a commit that must grow the
// file remaps it, and a remap waits for every read transaction, so every
// commit stopped behind the stalled reader.
//
// How the test makes sure a remap happens: bbolt maps a file below 16 MiB
// at a power of two and grows the file to the map's size, so the file
// growing at all past its size when the backup started means the commit
// that grew it remapped. The test commits until that happens. The database
// is filled to 8 MiB first, more than the socket buffers between syncd and
// the client (the client's receive buffer is 4 KiB, syncd's send buffer at
// most 4 MiB here), so that the old code really was stuck in the middle of
// the stream.
//
// About 5 s: 16 MiB of fsynced commits, then the write timeout (2 s) that
// cuts the stalled reader.
func TestAttackStalledBackupDoesNotBlockCommits(t *testing.T) {
	const writeTimeout = 2 * time.Second
	p := startSyncd(t, "-api-key", attackAPIKey, "-http-write-timeout", writeTimeout.String())
	pad := strings.Repeat("p", 256<<10)
	began := time.Now()
	for i := 0; i < 200 && dbSize(t, p) < 8<<20; i++ {
		apiEdit(t, p, fmt.Sprintf("fill%%2F%d", i), map[string]any{"pad": pad})
	}
	start := dbSize(t, p)
	if start < 8<<20 {
		t.Fatalf("database only %d bytes after filling", start)
	}

	// The stalled backup reader.
	bc := rawConn(t, p, 4096)
	fmt.Fprintf(bc, "GET /v1/backup HTTP/1.1\r\nHost: localhost\r\nX-API-Key: %s\r\n\r\n", attackAPIKey)
	bc.SetReadDeadline(time.Now().Add(readTimeout))
	status, err := bufio.NewReaderSize(bc, 64).ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("backup: %q, %v", status, err)
	}
	// From here on the client reads nothing. The server's write that
	// blocks began about now, so its deadline passes before cutOff.
	cutOff := time.Now().Add(writeTimeout + time.Second)

	var last int64
	grown := false
	for i := 0; i < 200 && !grown; i++ {
		rev, took := apiEdit(t, p, "grow%2Fdoc", map[string]any{"pad": pad, "i": i})
		if took > time.Second {
			t.Fatalf("commit %d took %v while a backup reader is stalled (want under 1s)", i, took)
		}
		last = rev
		grown = dbSize(t, p) > start
	}
	if !grown {
		t.Fatalf("the database never grew past %d bytes: no remap was forced", start)
	}
	t.Logf("database %d → %d bytes in %v", start, dbSize(t, p), time.Since(began).Round(time.Millisecond))
	requireServes(t, p, dialOpts{})
	p.RequireRSSBelow(procRSSLimit)
	if got := apiRev(t, p, "grow%2Fdoc"); got != last {
		t.Fatalf("grow/doc at rev %d, want the acknowledged %d", got, last)
	}

	// The stalled reader is cut by the write timeout: what it can still
	// read is what the socket buffers held, short of the whole copy. (Not
	// before cutOff: reading earlier would unstall the stream.)
	time.Sleep(time.Until(cutOff))
	n := closedWithin(t, bc, 3*time.Second, "stalled backup")
	if n >= start {
		t.Fatalf("the stalled reader received %d bytes, the whole backup (%d)", n, start)
	}
	// And the staging file is gone (unlinked when created).
	entries, _ := os.ReadDir(p.DataDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".syncd-backup") {
			t.Errorf("staging file left in the data directory: %s", e.Name())
		}
	}
	p.RequireUp()
}

// TestAttackIdleKeepAliveClosed: an idle keep-alive connection is closed
// after -http-idle-timeout (item 9), while a WebSocket connection, which
// the HTTP timeouts must not touch, outlives every one of them.
func TestAttackIdleKeepAliveClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	p := startSyncd(t, "-http-idle-timeout", idle.String(), "-http-read-timeout", idle.String(), "-http-write-timeout", idle.String())
	ws := dialProc(t, p, dialOpts{})
	ws.join("idle/ws")

	c := rawConn(t, p, 0)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(readTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("/healthz: HTTP %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	closedWithin(t, c, idle+time.Second, "idle keep-alive connection")

	// The WebSocket, quiet for longer than every HTTP timeout, still works.
	time.Sleep(2 * idle)
	ws.edit("idle/ws", map[string]any{"still": "open"})
	requireServes(t, p, dialOpts{})
	p.RequireRSSBelow(procRSSLimit)
}

// TestAttackSlowBodyClosed: a request body trickled in is never waited
// for without the API key, and for at most -http-read-timeout with it
// (item 9). About 4 s: the read timeout, 3 s.
func TestAttackSlowBodyClosed(t *testing.T) {
	// Longer than the prompt close the refused bodies must get, so that
	// the read timeout cannot be what closes them.
	const readLimit = 3 * time.Second
	const prompt = 1500 * time.Millisecond
	p := startSyncd(t, "-api-key", attackAPIKey, "-http-read-timeout", readLimit.String())
	slowPostTo := func(host, path, key string) net.Conn {
		c := rawConn(t, p, 0)
		hdr := ""
		if key != "" {
			hdr = "X-API-Key: " + key + "\r\n"
		}
		// A body of 100,000 bytes announced; 10 sent, then nothing.
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n%s\r\n{\"patch\":", path, host, hdr)
		return c
	}
	slowPost := func(path, key string) net.Conn { return slowPostTo("localhost", path, key) }
	expect := func(c net.Conn, status int, within time.Duration, what string) {
		t.Helper()
		start := time.Now()
		c.SetReadDeadline(start.Add(within))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s: %v after %v", what, err, time.Since(start))
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("%s: HTTP %d, want %d", what, resp.StatusCode, status)
		}
		closedWithin(t, c, within-time.Since(start), what)
	}
	// No key, a wrong key, a route that takes no body: answered and closed
	// at once (net/http lingers up to 0.5 s on a close with unread input).
	expect(slowPost("/v1/docs/slow/edits", ""), http.StatusUnauthorized, prompt, "no API key")
	expect(slowPost("/v1/docs/slow/edits", "wrong"), http.StatusUnauthorized, prompt, "wrong API key")
	expect(slowPost("/healthz", ""), http.StatusMethodNotAllowed, prompt, "POST /healthz")
	expect(slowPost("/v1/docs", attackAPIKey), http.StatusMethodNotAllowed, prompt, "POST /v1/docs")
	// A host syncd does not answer to: refused before the key is looked at.
	expect(slowPostTo("evil.example", "/v1/docs/slow/edits", attackAPIKey), http.StatusMisdirectedRequest, prompt, "POST for another host")
	// With the key: the read timeout cuts the body (400, the body could
	// not be read).
	expect(slowPost("/v1/docs/slow/edits", attackAPIKey), http.StatusBadRequest, readLimit+prompt, "slow body with the API key")
	requireServes(t, p, dialOpts{})
	p.RequireRSSBelow(procRSSLimit)
}

// TestAttackShutdownDrainsAndIsBounded: on SIGTERM, /readyz answers 503
// for the drain while /healthz still answers 200 and WebSockets stay open
// (item 14); then the process exits within drain + shutdown-timeout + 5 s
// although a client holds a request open that would otherwise run for
// 30 s (item 10), and what was acknowledged survives.
//
// About 3 s: a 1 s drain, a 1 s shutdown timeout, and a restart.
func TestAttackShutdownDrainsAndIsBounded(t *testing.T) {
	const drain, shutdownTimeout = time.Second, time.Second
	const bound = drain + shutdownTimeout + 5*time.Second // cmd/syncd/shutdown.go
	p := startSyncd(t, "-api-key", attackAPIKey, "-drain", drain.String(), "-shutdown-timeout", shutdownTimeout.String(),
		"-http-read-timeout", "30s")
	hc := http.Client{Timeout: time.Second}
	get := func(path string) int {
		resp, err := hc.Get(p.URL + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("/readyz"); s != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM: %d", s)
	}
	ws := dialProc(t, p, dialOpts{})
	ws.join("drain/doc")
	op := ws.edit("drain/doc", map[string]any{"before": "sigterm"})
	wsClosed := make(chan time.Time, 1)
	go func() {
		ws.tryCloseCode()
		wsClosed <- time.Now()
	}()
	// A stuck request: its body will not come, and the read timeout is
	// 30 s. http.Server.Shutdown alone would wait for it.
	stuck := rawConn(t, p, 0)
	fmt.Fprintf(stuck, "POST /v1/docs/stuck/edits HTTP/1.1\r\nHost: localhost\r\nX-API-Key: %s\r\nContent-Length: 100000\r\n\r\n{", attackAPIKey)
	time.Sleep(50 * time.Millisecond) // let the request reach its handler

	sigterm := time.Now()
	if err := syscall.Kill(p.PID(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// During the drain: readiness is gone, liveness is not.
	sawNotReady := false
	for i := 0; i < 50 && time.Since(sigterm) < drain*3/4; i++ {
		if get("/readyz") == http.StatusServiceUnavailable {
			sawNotReady = true
			if s := get("/healthz"); s != http.StatusOK {
				t.Fatalf("/healthz during the drain: %d, want 200", s)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawNotReady {
		t.Fatal("/readyz never answered 503 during the drain")
	}
	select {
	case at := <-wsClosed:
		t.Fatalf("the WebSocket closed %v after SIGTERM, inside the %v drain", at.Sub(sigterm), drain)
	default:
	}

	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	err := p.Wait(ctx)
	took := time.Since(sigterm)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("syncd still running %v after SIGTERM (bound %v):\n%s", took, bound, p.Log())
	}
	if err != nil {
		t.Fatalf("syncd exited with %v after SIGTERM:\n%s", err, p.Log())
	}
	if took < drain {
		t.Fatalf("syncd exited %v after SIGTERM, before the %v drain ended", took, drain)
	}
	if at := <-wsClosed; at.Sub(sigterm) < drain {
		t.Fatalf("the WebSocket closed %v after SIGTERM, inside the drain", at.Sub(sigterm))
	}
	closedWithin(t, stuck, time.Second, "stuck request after exit")

	// What was acknowledged is on disk.
	p2 := syncdproc.Start(t, syncdproc.Options{DataDir: p.DataDir, Args: []string{"-api-key", attackAPIKey}})
	if rev := apiRev(t, p2, "drain%2Fdoc"); rev != int64(op.Rev) {
		t.Fatalf("drain/doc at rev %d after restart, want %d", rev, op.Rev)
	}
}
