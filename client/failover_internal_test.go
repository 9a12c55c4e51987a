package client

import (
	"slices"
	"testing"

	"github.com/deltasync/syncd/protocol"
)

// TestServers: Options.URL comes first, then URLs in order, each once;
// URLs alone is enough; nothing at all, or a URL that is not ws/wss, is an
// error at Dial.
func TestServers(t *testing.T) {
	o := Options{URL: "ws://a/ws", URLs: []string{"ws://b/ws", "ws://a/ws", "", "ws://c/ws", "ws://b/ws"}}
	if got, want := o.servers(), []string{"ws://a/ws", "ws://b/ws", "ws://c/ws"}; !slices.Equal(got, want) {
		t.Fatalf("servers() = %v, want %v", got, want)
	}
	if got := (&Options{URLs: []string{"wss://x/ws"}}).servers(); !slices.Equal(got, []string{"wss://x/ws"}) {
		t.Fatalf("URLs alone: %v", got)
	}
	if err := checkServers(nil); err == nil {
		t.Fatal("no endpoint: no error")
	}
	if err := checkServers([]string{"ws://a/ws", "http://b/ws"}); err == nil {
		t.Fatal("an http endpoint: no error")
	}
}

// TestStaysAfter: only closes that blame this client keep it on the same
// server; a drop, a shutdown or an overloaded server moves it on.
func TestStaysAfter(t *testing.T) {
	for _, code := range []int{protocol.CloseHeartbeatTimeout, protocol.CloseSlowConsumer, protocol.CloseFlood, protocol.CloseUnauthenticated, 1009} {
		if !staysAfter(code) {
			t.Errorf("after %d the client moves on, want it to stay", code)
		}
	}
	for _, code := range []int{1001, 1005, 1006, 1011, 1012, 1013, 4999} {
		if staysAfter(code) {
			t.Errorf("after %d the client stays, want it to move on", code)
		}
	}
}
