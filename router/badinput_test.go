package router_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// The bad-input catalogue: one test per kind of bad input. Each checks the
// answer (an ERROR with its code, or a close code), that the sender's
// connection still works when it should, and that a second client notices
// nothing.

// badInput sends raw from a victim connection, expects an ERROR with code,
// then checks that victim and bystander both still work.
func badInput(t *testing.T, raw string, code protocol.Code, inMessage string) {
	t.Helper()
	ts := newServer(t, router.Options{}, nil)
	victim, bystander := ts.dial(), ts.dial()
	bystander.echo("before")
	victim.sendRaw(raw)
	p := victim.expectError("", code)
	if !strings.Contains(p.Message, inMessage) {
		t.Errorf("message %q, want it to mention %q", p.Message, inMessage)
	}
	victim.echo("victim still usable")
	bystander.echo("bystander unaffected")
}

func TestBadInputInvalidJSON(t *testing.T) {
	badInput(t, `{"type":"ECHO","payload":{"text":"x"`, protocol.CodeInvalidArgument, "invalid JSON")
}

func TestBadInputNotAnObject(t *testing.T) {
	badInput(t, `["ECHO",{"text":"x"}]`, protocol.CodeInvalidArgument, "want object, got array")
}

func TestBadInputMissingType(t *testing.T) {
	badInput(t, `{"payload":{"text":"x"}}`, protocol.CodeInvalidArgument, "type: required")
}

func TestBadInputReservedType(t *testing.T) {
	badInput(t, `{"type":"__admin"}`, protocol.CodeInvalidArgument, "reserved")
	badInput(t, `{"type":"$ws:rpc-progress"}`, protocol.CodeInvalidArgument, "reserved")
}

func TestBadInputUnknownType(t *testing.T) {
	badInput(t, `{"type":"NO_SUCH_TYPE"}`, protocol.CodeUnimplemented, "NO_SUCH_TYPE")
}

func TestBadInputWrongFieldType(t *testing.T) {
	badInput(t, `{"type":"ECHO","payload":{"text":42}}`, protocol.CodeInvalidArgument, "payload.text: want string, got number")
}

func TestBadInputUnknownField(t *testing.T) {
	badInput(t, `{"type":"ECHO","payload":{"text":"x","bogus":1}}`, protocol.CodeInvalidArgument, "payload.bogus: unknown field")
}

func TestBadInputUnknownEnvelopeField(t *testing.T) {
	badInput(t, `{"type":"ECHO","payload":{"text":"x"},"extra":true}`, protocol.CodeInvalidArgument, "extra: unknown field")
}

func TestBadInputBinaryFrame(t *testing.T) {
	ts := newServer(t, router.Options{}, nil)
	victim, bystander := ts.dial(), ts.dial()
	if err := victim.ws.WriteMessage(websocket.BinaryMessage, []byte{0xff, 0x00, 0x13, 0x37}); err != nil {
		t.Fatal(err)
	}
	p := victim.expectError("", protocol.CodeInvalidArgument)
	if !strings.Contains(p.Message, "binary") {
		t.Errorf("message %q", p.Message)
	}
	victim.echo("victim still usable")
	bystander.echo("bystander unaffected")
}

func TestBadInputOversizedFrame(t *testing.T) {
	rec := newRecorder()
	ts := newServer(t, router.Options{
		MaxMessageBytes: 1024,
		OnClose:         func(c *router.Conn, code int, _ string) { rec.add("close " + strconv.Itoa(code)) },
	}, nil)
	victim, bystander := ts.dial(), ts.dial()
	victim.send("NOTE", "", map[string]any{"text": strings.Repeat("a", 900)}) // under the limit: fine
	victim.echo("small")
	victim.sendRaw(`{"type":"ECHO","payload":{"text":"` + strings.Repeat("a", 2000) + `"}}`)
	if code := victim.closeCode(); code != protocol.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	rec.wait(t, "close 1009")
	bystander.echo("bystander unaffected")
	ts.dial().echo("server still accepts")
}

func TestBadInputFlood(t *testing.T) {
	ts := newServer(t, router.Options{MessagesPerSecond: 5, Burst: 5, FloodCloseAfter: 20}, nil)
	victim, bystander := ts.dial(), ts.dial()
	for i := 0; i < 10; i++ {
		victim.send("NOTE", "", map[string]any{"text": "x"})
	}
	// The burst passes silently (NOTE has no answer); the rest are refused.
	p := victim.expectError("", protocol.CodeResourceExhausted)
	if p.RetryAfterMs == nil || *p.RetryAfterMs <= 0 || p.Retryable == nil || !*p.Retryable {
		t.Fatalf("no retry hint: %+v", p)
	}
	for i := 0; i < 4; i++ {
		victim.expectError("", protocol.CodeResourceExhausted)
	}
	bystander.echo("bystander unaffected")
	// After the hint, the victim may send again.
	time.Sleep(time.Duration(*p.RetryAfterMs)*time.Millisecond + 250*time.Millisecond)
	victim.echo("after backoff")
}

func TestBadInputSustainedFloodCloses(t *testing.T) {
	ts := newServer(t, router.Options{MessagesPerSecond: 1, Burst: 1, FloodCloseAfter: 10}, nil)
	victim, bystander := ts.dial(), ts.dial()
	go func() {
		for i := 0; i < 50; i++ {
			if victim.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"NOTE","payload":{"text":"x"}}`)) != nil {
				return
			}
		}
	}()
	if code := victim.closeCode(); code != protocol.CloseFlood {
		t.Fatalf("close code %d, want %d", code, protocol.CloseFlood)
	}
	bystander.echo("bystander unaffected")
}

// TestBadInputErrorCarriesCorrelation: bad input in a request (a valid
// envelope with a correlationId) is answered with RPC_ERROR, so an RPC
// caller's promise settles.
func TestBadInputErrorCarriesCorrelation(t *testing.T) {
	ts := newServer(t, router.Options{}, nil)
	c := ts.dial()
	c.send("NO_SUCH_TYPE", "q-1", nil)
	c.expectError("q-1", protocol.CodeUnimplemented)
	c.send("ECHO", "q-2", map[string]any{"text": 1})
	c.expectError("q-2", protocol.CodeInvalidArgument)
	c.send("$ws:abort", "q-3", nil)
	c.expectError("q-3", protocol.CodeInvalidArgument)
}

// TestBadInputOversizedFrameLarge sends messages far over the limit: the
// server must not reset the connection with the rest of the message
// unread, or the client would see 1006 instead of 1009 (and might resend).
func TestBadInputOversizedFrameLarge(t *testing.T) {
	ts := newServer(t, router.Options{MaxMessageBytes: 1024}, nil)
	big := `{"type":"ECHO","payload":{"text":"` + strings.Repeat("a", 256<<10) + `"}}`
	for i := 0; i < 10; i++ {
		victim := ts.dial()
		victim.sendRaw(big)
		if code := victim.closeCode(); code != protocol.CloseMessageTooBig {
			t.Fatalf("attempt %d: close code %d, want 1009", i, code)
		}
	}
	ts.dial().echo("server still accepts")
}
