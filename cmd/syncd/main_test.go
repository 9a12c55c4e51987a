package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"
	"go.uber.org/goleak"
)

// End-to-end tests of the real program: NewMain, Run on 127.0.0.1:0, real
// WebSockets, Close, and booting again on the same data directory.

func TestMain(m *testing.M) {
	if os.Getenv("SYNCD_TEST_RUN_MAIN") == "1" {
		// Re-executed by TestSignalShutdown: be the syncd program.
		os.Args = append([]string{"syncd"}, strings.Fields(os.Getenv("SYNCD_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

const timeout = 10 * time.Second

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// boot runs the program on 127.0.0.1:0 with dir as its data directory.
func boot(t *testing.T, dir string, args ...string) *Main {
	t.Helper()
	m := NewMain()
	logs := &syncBuffer{}
	m.Stdout, m.Stderr = io.Discard, logs
	m.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// -drain 0: a test's shutdown need not wait for a load balancer.
	if err := m.ParseFlags(append([]string{"-addr", "127.0.0.1:0", "-data", dir, "-drain", "0"}, args...), func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.HasPrefix(m.Addr(), "127.0.0.1:") {
		t.Fatalf("listening on %q", m.Addr())
	}
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() { m.Close() })
		if t.Failed() {
			t.Logf("syncd logs:\n%s", logs.String())
		}
	})
	return m
}

// wsClient is a minimal protocol client.
type wsClient struct {
	t      *testing.T
	ws     *websocket.Conn
	id     string
	author string // HELLO's authorId
}

type message struct {
	Type    string          `json:"type"`
	Meta    json.RawMessage `json:"meta"`
	Payload json.RawMessage `json:"payload"`
}

func dialWS(t *testing.T, url, clientID string, d *websocket.Dialer) *wsClient {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: timeout}
	}
	if clientID != "" {
		url += "?clientId=" + clientID
	}
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	t.Cleanup(func() { ws.Close() })
	c := &wsClient{t: t, ws: ws}
	var hello struct {
		ClientID string `json:"clientId"`
		AuthorID string `json:"authorId"`
		Protocol string `json:"protocol"`
	}
	c.expect("HELLO", &hello)
	if hello.Protocol != "syncd/1" || (clientID != "" && hello.ClientID != clientID) {
		t.Fatalf("HELLO %+v", hello)
	}
	c.id, c.author = hello.ClientID, hello.AuthorID
	return c
}

func (c *wsClient) send(typ string, payload any) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{"type": typ, "meta": map[string]any{"timestamp": time.Now().UnixMilli()}, "payload": payload})
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsClient) read() message {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(timeout))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatal(err)
	}
	return m
}

// expect reads until a message of type typ (skipping PRESENCE) and
// decodes its payload into v.
func (c *wsClient) expect(typ string, v any) {
	c.t.Helper()
	for i := 0; i < 100; i++ {
		m := c.read()
		if m.Type == "PRESENCE" && typ != "PRESENCE" {
			continue
		}
		if m.Type != typ {
			c.t.Fatalf("got %s %s, want %s", m.Type, m.Payload, typ)
		}
		if v != nil {
			if err := json.Unmarshal(m.Payload, v); err != nil {
				c.t.Fatal(err)
			}
		}
		return
	}
	c.t.Fatalf("no %s", typ)
}

type operation struct {
	Rev         uint64          `json:"rev"`
	Payload     json.RawMessage `json:"payload"`
	ClientID    string          `json:"clientId"`
	ClientReqID string          `json:"clientReqId"`
}

type deltas struct {
	Epoch      string      `json:"epoch"`
	FromRev    uint64      `json:"fromRev"`
	ToRev      uint64      `json:"toRev"`
	Operations []operation `json:"operations"`
	AckedReqID string      `json:"ackedReqId"`
}

type snapshot struct {
	Epoch      string          `json:"epoch"`
	Rev        uint64          `json:"rev"`
	State      json.RawMessage `json:"state"`
	AckedReqID string          `json:"ackedReqId"`
}

// edit sends an UPDATE and waits for its acknowledgement.
func (c *wsClient) edit(doc, reqID string, patch any) operation {
	c.t.Helper()
	c.send("UPDATE", map[string]any{"doc": doc, "patch": patch, "clientReqId": reqID})
	for i := 0; i < 100; i++ {
		var d deltas
		c.expect("SYNC.DELTAS", &d)
		for _, op := range d.Operations {
			// Operations name their author by author id (PROTOCOL.md §2.2).
			if op.ClientReqID == reqID && op.ClientID == c.author {
				return op
			}
		}
	}
	c.t.Fatalf("no ack for %s", reqID)
	return operation{}
}

// closeCode reads until the connection closes.
func (c *wsClient) closeCode() int {
	c.t.Helper()
	for i := 0; i < 1000; i++ {
		c.ws.SetReadDeadline(time.Now().Add(timeout))
		if _, _, err := c.ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			c.t.Fatalf("ended without a close frame: %v", err)
		}
	}
	c.t.Fatal("no close")
	return 0
}

func wsURL(m *Main) string { return "ws://" + m.Addr() + "/ws" }

func TestBootEditRestartResume(t *testing.T) {
	dir := t.TempDir()
	m := boot(t, dir)
	resp, err := http.Get("http://" + m.Addr() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	id := ulid.Make().String()
	const doc = "main/doc"
	c := dialWS(t, wsURL(m), id, nil)
	c.send("JOIN", map[string]any{"doc": doc})
	var snap snapshot
	c.expect("SYNC.SNAPSHOT", &snap)
	pad := c.edit(doc, "r-001", map[string]any{"pad": strings.Repeat("p", 8<<10)})
	title := c.edit(doc, "r-002", map[string]any{"title": "durable"})

	// Close: the client is told to go away, and the data is on disk.
	closed := make(chan int, 1)
	go func() {
		c.ws.SetReadDeadline(time.Now().Add(timeout))
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					closed <- ce.Code
				} else {
					closed <- 0
				}
				return
			}
		}
	}()
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if code := <-closed; code != 1001 {
		t.Fatalf("close %d, want 1001", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "syncd.db")); err != nil {
		t.Fatal(err)
	}

	// Boot again on the same data: the client resumes with deltas.
	m2 := boot(t, dir)
	c2 := dialWS(t, wsURL(m2), id, nil)
	c2.send("JOIN", map[string]any{"doc": doc, "rev": pad.Rev, "epoch": snap.Epoch})
	var d deltas
	c2.expect("SYNC.DELTAS", &d)
	if d.Epoch != snap.Epoch || d.FromRev != pad.Rev || d.ToRev != title.Rev || len(d.Operations) != 1 ||
		d.Operations[0].ClientReqID != "r-002" || string(d.Operations[0].Payload) != `{"title":"durable"}` || d.AckedReqID != "r-002" {
		t.Fatalf("resume: %+v", d)
	}
	// The watermark survived: r-002 is decided.
	c2.send("UPDATE", map[string]any{"doc": doc, "patch": map[string]any{"title": "again"}, "clientReqId": "r-002"})
	var e struct {
		Code string `json:"code"`
	}
	c2.expect("ERROR", &e)
	if e.Code != "ALREADY_EXISTS" {
		t.Fatalf("resend: %+v", e)
	}
	c2.edit(doc, "r-003", map[string]any{"after": "restart"})
}

func TestMemoryStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never-created")
	m := boot(t, dir, "-store", "memory")
	c := dialWS(t, wsURL(m), "", nil)
	c.send("JOIN", map[string]any{"doc": "mem/doc"})
	c.expect("SYNC.SNAPSHOT", nil)
	c.edit("mem/doc", "r-1", map[string]any{"a": 1})
	c.ws.Close()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("-store memory touched the data directory: %v", err)
	}
	// Nothing survives a restart of the memory store.
	m2 := boot(t, dir, "-store", "memory")
	c2 := dialWS(t, wsURL(m2), "", nil)
	c2.send("JOIN", map[string]any{"doc": "mem/doc"})
	var s snapshot
	c2.expect("SYNC.SNAPSHOT", &s)
	if s.Rev != 0 {
		t.Fatalf("memory store kept rev %d", s.Rev)
	}
}

func TestJWTAndAPIKeyFlags(t *testing.T) {
	m := boot(t, t.TempDir(), "-jwt-secret", "s3cret-s3cret-s3cret-s3cret-s3cret", "-api-key", "k")
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(m), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without a token: %v %v", resp, err)
	}
	req, _ := http.NewRequest("GET", "http://"+m.Addr()+"/v1/docs", nil)
	req.Header.Set("Authorization", "Bearer k")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("API with the key: %v %v", resp, err)
	}
	resp.Body.Close()
	// The backup route is wired to the bolt store.
	req, _ = http.NewRequest("GET", "http://"+m.Addr()+"/v1/backup", nil)
	req.Header.Set("X-API-Key", "k")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: %v %v", resp, err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n == 0 {
		t.Fatal("empty backup")
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, pool := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	m := boot(t, dir, "-tls-cert", certFile, "-tls-key", keyFile)
	d := &websocket.Dialer{HandshakeTimeout: timeout, TLSClientConfig: &tls.Config{RootCAs: pool}}
	c := dialWS(t, "wss://"+m.Addr()+"/ws", "", d)
	c.send("JOIN", map[string]any{"doc": "tls/doc"})
	c.expect("SYNC.SNAPSHOT", nil)
	c.edit("tls/doc", "r-1", map[string]any{"secure": true})
	// Plain ws:// is not served.
	if _, _, err := websocket.DefaultDialer.Dial(wsURL(m), nil); err == nil {
		t.Fatal("plain ws:// accepted on a TLS listener")
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "syncd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), pool
}

func TestRunFailsCleanly(t *testing.T) {
	// A second instance on the same data directory cannot take the
	// database lock; an address in use cannot be listened on. Run says
	// so and leaves nothing running.
	dir := t.TempDir()
	m := boot(t, dir)
	for name, args := range map[string][]string{
		"data locked": {"-data", dir, "-addr", "127.0.0.1:0"},
		"addr in use": {"-data", t.TempDir(), "-addr", m.Addr()},
		"bad tls":     {"-data", t.TempDir(), "-addr", "127.0.0.1:0", "-tls-cert", "/nonexistent.pem", "-tls-key", "/nonexistent.key"},
	} {
		m2 := NewMain()
		m2.Stderr = io.Discard
		m2.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if err := m2.ParseFlags(args, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		// bbolt waits for the lock up to the store's timeout.
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := m2.Run(ctx)
		cancel()
		if err == nil {
			m2.Close()
			t.Fatalf("%s: Run succeeded", name)
		}
	}
}

// TestSignalShutdown runs the real binary (this test binary, re-executed
// as main) and stops it with SIGTERM: it closes its clients with 1001,
// exits 0, and the acknowledged edit is in the database.
func TestSignalShutdown(t *testing.T) {
	dir := t.TempDir()
	p := startMainProc(t, dir, "-addr 127.0.0.1:0 -log-format json -drain 0")
	url := p.url
	c := dialWS(t, url, "", nil)
	c.send("JOIN", map[string]any{"doc": "sig/doc"})
	c.expect("SYNC.SNAPSHOT", nil)
	op := c.edit("sig/doc", "r-1", map[string]any{"before": "signal"})

	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.closeCode(); code != 1001 {
		t.Fatalf("close %d, want 1001", code)
	}
	select {
	case <-p.done:
		err := p.err
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(timeout):
		t.Fatal("syncd did not exit after SIGTERM")
	}
	// The edit is in the database the process left behind.
	m := boot(t, dir)
	c2 := dialWS(t, wsURL(m), "", nil)
	c2.send("JOIN", map[string]any{"doc": "sig/doc"})
	var s snapshot
	c2.expect("SYNC.SNAPSHOT", &s)
	if s.Rev != op.Rev || !strings.Contains(string(s.State), `"before":"signal"`) {
		t.Fatalf("after SIGTERM: %+v", s)
	}
}

// mainProc is syncd run as a child process of the test binary (TestMain
// runs Main when SYNCD_TEST_RUN_MAIN is set), serving on a loopback port.
type mainProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	url    string        // its WebSocket URL, from its serving line
	done   chan struct{} // closed when it has exited, with err
	err    error
}

// startMainProc starts syncd with args (SYNCD_TEST_ARGS: one string, split
// on spaces) on the data directory dir, waits for its serving line, and
// kills it when the test ends unless it has exited. Under -short the test
// is skipped: it runs a process.
func startMainProc(t *testing.T, dir, args string) *mainProc {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a process")
	}
	p := &mainProc{cmd: exec.Command(os.Args[0], "-test.run=^$"), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "SYNCD_TEST_RUN_MAIN=1", "SYNCD_TEST_ARGS="+args, "SYNCD_DATA="+dir)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	re := regexp.MustCompile(`"ws":"(ws://127\.0\.0\.1:\d+/ws)"`)
	for deadline := time.Now().Add(timeout); p.url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			p.url = m[1]
		}
	}
	if p.url == "" {
		t.Fatalf("no serving line in:\n%s", p.stderr.String())
	}
	return p
}
