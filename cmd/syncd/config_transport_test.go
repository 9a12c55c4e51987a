package main

import (
	"strings"
	"testing"
	"time"
)

// TestTransportFlags: the defaults of the transport limits, their SYNCD_
// forms, and the checks between them.
func TestTransportFlags(t *testing.T) {
	m, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := TransportConfig{
		MaxConns: 0, MaxConnsPerAddr: 256, MessageTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxPartialBytes: 64 << 20,
		MaxPresenceBytes: 64 << 10, PresenceBytesPerSecond: 64 << 10, MaxRoomPresenceBytes: 1 << 20,
		MaxPublishBytes: 64 << 10, RoomQueueBytes: 0,
	}
	if m.Config.Transport != want {
		t.Fatalf("defaults %+v, want %+v", m.Config.Transport, want)
	}
	m, err = parse(t, []string{"-max-conns-per-addr", "9"}, map[string]string{
		"SYNCD_MAX_CONNS": "100", "SYNCD_MESSAGE_TIMEOUT": "2s", "SYNCD_WRITE_TIMEOUT": "3s", "SYNCD_MAX_PUBLISH_BYTES": "1000", "SYNCD_MAX_CONNS_PER_ADDR": "50",
	})
	if err != nil {
		t.Fatal(err)
	}
	if tc := m.Config.Transport; tc.MaxConns != 100 || tc.MaxConnsPerAddr != 9 || tc.MessageTimeout != 2*time.Second || tc.WriteTimeout != 3*time.Second || tc.MaxPublishBytes != 1000 {
		t.Fatalf("flags and environment: %+v", tc)
	}
	for _, bad := range [][]string{
		{"-max-conns", "-1"},
		{"-message-timeout", "0s"},
		{"-write-timeout", "0s"},
		{"-max-partial-bytes", "0"},
		{"-max-presence-bytes", "0"},
		{"-room-queue-bytes", "-5"},
		{"-queue-bytes", "1048576", "-max-room-presence-bytes", "1048576"}, // the joiner's full room would not fit
	} {
		if _, err := parse(t, bad, nil); err == nil || !strings.Contains(err.Error(), "-") {
			t.Errorf("%v: accepted (%v)", bad, err)
		}
	}
}
