package main

import (
	"testing"
	"time"
)

// TestBusFlags: the defaults of the cluster bus's timing, their SYNCD_
// forms, and the checks between them.
func TestBusFlags(t *testing.T) {
	m, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := BusConfig{HeartbeatInterval: 2 * time.Second, PeerTimeout: 6 * time.Second, RoomWait: 250 * time.Millisecond,
		Forward: true, ForwardHold: 5 * time.Second, ForwardTimeout: 5 * time.Second}
	if m.Config.Bus != want {
		t.Fatalf("defaults %+v, want %+v", m.Config.Bus, want)
	}
	m, err = parse(t, []string{"-bus-heartbeat", "1s"}, map[string]string{"SYNCD_BUS_PEER_TIMEOUT": "5s", "SYNCD_BUS_ROOM_WAIT": "100ms"})
	if err != nil {
		t.Fatal(err)
	}
	if b := m.Config.Bus; b.HeartbeatInterval != time.Second || b.PeerTimeout != 5*time.Second || b.RoomWait != 100*time.Millisecond {
		t.Fatalf("flags and environment: %+v", b)
	}
	m, err = parse(t, []string{"-bus-forward-hold", "2s"}, map[string]string{"SYNCD_BUS_FORWARD": "false", "SYNCD_BUS_FORWARD_TIMEOUT": "1s"})
	if err != nil {
		t.Fatal(err)
	}
	if b := m.Config.Bus; b.Forward || b.ForwardHold != 2*time.Second || b.ForwardTimeout != time.Second {
		t.Fatalf("forwarding's flags and environment: %+v", b)
	}
	for _, bad := range [][]string{
		{"-bus-heartbeat", "0s"},
		{"-bus-room-wait", "0s"},
		{"-bus-forward-hold", "0s"},
		{"-bus-forward-timeout", "-1s"},
		{"-bus-heartbeat", "10s"}, // not shorter than the default peer timeout
		{"-bus-peer-timeout", "1s", "-bus-heartbeat", "1s"},
	} {
		if _, err := parse(t, bad, nil); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}
