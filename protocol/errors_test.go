package protocol_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/deltasync/syncd/protocol"
)

func TestCodesTable(t *testing.T) {
	if len(protocol.Codes) != 13 {
		t.Fatalf("%d codes, want 13", len(protocol.Codes))
	}
	retryable := map[protocol.Code]bool{
		protocol.CodeDeadlineExceeded: true, protocol.CodeResourceExhausted: true,
		protocol.CodeUnavailable: true, protocol.CodeAborted: true,
	}
	for _, ci := range protocol.Codes {
		if got := ci.Code.Retryable(); got != retryable[ci.Code] {
			t.Errorf("%s.Retryable() = %v", ci.Code, got)
		}
		if !ci.Code.Standard() {
			t.Errorf("%s not standard", ci.Code)
		}
		if (ci.Retry == protocol.RetryAfter) != (ci.Backoff > 0 && retryable[ci.Code]) {
			t.Errorf("%s: retry %v backoff %v", ci.Code, ci.Retry, ci.Backoff)
		}
	}
	if protocol.Code("APP_SPECIFIC").Standard() {
		t.Error("custom code is standard")
	}
}

func TestErrorPayloadRetryMetadata(t *testing.T) {
	cases := []struct {
		err  *protocol.Error
		want string
	}{
		{protocol.NewError(protocol.CodeInvalidArgument, "bad"), `{"code":"INVALID_ARGUMENT","message":"bad","retryable":false}`},
		{&protocol.Error{Code: protocol.CodeInvalidArgument, Message: "bad", RetryAfter: time.Second}, `{"code":"INVALID_ARGUMENT","message":"bad","retryable":false}`},
		{protocol.NewError(protocol.CodeResourceExhausted, "slow down"), `{"code":"RESOURCE_EXHAUSTED","message":"slow down","retryable":true,"retryAfterMs":100}`},
		{&protocol.Error{Code: protocol.CodeResourceExhausted, Message: "m", RetryAfter: 1500 * time.Microsecond}, `{"code":"RESOURCE_EXHAUSTED","message":"m","retryable":true,"retryAfterMs":2}`},
		{protocol.NewError(protocol.CodeInternal, "oops"), `{"code":"INTERNAL","message":"oops"}`},
		{&protocol.Error{Code: protocol.CodeInternal, Message: "oops", RetryAfter: time.Second}, `{"code":"INTERNAL","message":"oops","retryable":true,"retryAfterMs":1000}`},
		{protocol.NewError("ROOM_FULL", "full"), `{"code":"ROOM_FULL","message":"full"}`},
		{&protocol.Error{Code: "ROOM_FULL", Message: "full", RetryAfter: 3 * time.Second}, `{"code":"ROOM_FULL","message":"full","retryable":true,"retryAfterMs":3000}`},
		{&protocol.Error{Message: "no code"}, `{"code":"INTERNAL","message":"no code"}`},
		{protocol.NewError(protocol.CodeNotFound, "x").WithDetails(map[string]any{"doc": "a"}), `{"code":"NOT_FOUND","message":"x","details":{"doc":"a"},"retryable":false}`},
		{protocol.NewError(protocol.CodeNotFound, "x").WithDetails("not an object"), `{"code":"NOT_FOUND","message":"x","retryable":false}`},
		{protocol.NewError(protocol.CodeNotFound, "x").WithDetails(json.RawMessage(`{"a":1}`)), `{"code":"NOT_FOUND","message":"x","details":{"a":1},"retryable":false}`},
		{protocol.NewError(protocol.CodeNotFound, "x").WithDetails(func() {}), `{"code":"NOT_FOUND","message":"x","retryable":false}`},
	}
	for _, c := range cases {
		got := string(c.err.Payload().AppendJSON(nil))
		if got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
		var p protocol.ErrorPayload
		if err := p.UnmarshalPayload([]byte(got)); err != nil {
			t.Fatal(err)
		}
		back := p.Err()
		if back.Code != c.err.Payload().Code || back.Message != c.err.Message {
			t.Errorf("Err() = %+v", back)
		}
	}
}

func TestCodeOfAndAsError(t *testing.T) {
	base := protocol.NewError(protocol.CodeNotFound, "no such doc")
	wrapped := fmt.Errorf("join: %w", base)
	if protocol.CodeOf(wrapped) != protocol.CodeNotFound || protocol.AsError(wrapped) != base {
		t.Error("wrapped *Error not found")
	}
	if protocol.CodeOf(nil) != "" || protocol.AsError(nil) != nil {
		t.Error("nil")
	}
	if protocol.CodeOf(fmt.Errorf("x: %w", context.DeadlineExceeded)) != protocol.CodeDeadlineExceeded {
		t.Error("deadline")
	}
	if protocol.CodeOf(context.Canceled) != protocol.CodeCancelled {
		t.Error("cancelled")
	}
	secret := errors.New("db password is hunter2")
	e := protocol.AsError(secret)
	if e.Code != protocol.CodeInternal || e.Message != "internal error" || !errors.Is(e, secret) {
		t.Errorf("AsError(unknown) = %+v", e)
	}
	if protocol.CodeOf(&protocol.Error{}) != protocol.CodeInternal {
		t.Error("empty code")
	}
}

func TestErrorPayloadDecodeCompat(t *testing.T) {
	// ws-kit may send retryAfterMs:null and omit message.
	var p protocol.ErrorPayload
	if err := p.UnmarshalPayload([]byte(`{"code":"RESOURCE_EXHAUSTED","retryAfterMs":null,"context":{}}`)); err != nil {
		t.Fatal(err)
	}
	if p.RetryAfterMs != nil || p.Code != protocol.CodeResourceExhausted {
		t.Errorf("%+v", p)
	}
}

func TestCloseCodes(t *testing.T) {
	stop := []int{protocol.CloseNormal, protocol.CloseProtocolError, protocol.ClosePolicyViolation,
		protocol.CloseUnauthenticated, protocol.CloseForbidden, protocol.CloseReplaced}
	reconnect := []int{protocol.CloseGoingAway, protocol.CloseAbnormal, protocol.CloseMessageTooBig,
		protocol.CloseInternalError, protocol.CloseServiceRestart, protocol.CloseTryAgainLater,
		protocol.CloseHeartbeatTimeout, protocol.CloseFlood, protocol.CloseSlowConsumer, 4999, 3000}
	for _, c := range stop {
		if protocol.ShouldReconnect(c) {
			t.Errorf("ShouldReconnect(%d) = true", c)
		}
	}
	for _, c := range reconnect {
		if !protocol.ShouldReconnect(c) {
			t.Errorf("ShouldReconnect(%d) = false", c)
		}
	}
	seen := map[int]bool{}
	for _, c := range protocol.CloseCodes {
		if seen[c.Code] {
			t.Errorf("duplicate %d", c.Code)
		}
		seen[c.Code] = true
		if c.Name == "" || c.Description == "" {
			t.Errorf("%d undocumented", c.Code)
		}
		if c.Code >= 4000 && c.Code > 4999 {
			t.Errorf("%d: application codes are 4000–4999", c.Code)
		}
		if info, ok := protocol.CloseInfo(c.Code); !ok || info != c {
			t.Errorf("CloseInfo(%d)", c.Code)
		}
	}
	if protocol.CloseActionOf(protocol.CloseHeartbeatTimeout) != protocol.ActionReconnect {
		t.Error("heartbeat timeout should reconnect at once")
	}
}
