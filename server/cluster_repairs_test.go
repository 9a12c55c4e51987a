package server_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// The bus is at most once, and "a lost message is repaired by the
// heartbeats" (docs/cluster-bus.md): a lost claim too, since a claim is
// repeated with the next heartbeats. Without that, the older connection of
// the client id, on another instance, stayed live next to the newer one
// for as long as both lasted.
func TestClusterLostClaimLeavesBothConnectionsLive(t *testing.T) {
	ns := startNATS(t)
	a := startNode(t, ns, server.Options{})
	var lossy *lossyBus
	b := startNodeWith(t, ns, server.Options{}, func(bus server.Bus) server.Bus {
		lossy = &lossyBus{Bus: bus}
		return lossy
	})
	a.awaitInstances(1)
	b.awaitInstances(1)
	id := newClientID()
	older := a.dialID(id)
	older.join("cluster/lost-claim")
	closed := older.closeCodeAsync()
	lossy.mu.Lock()
	lossy.drop = func(subject string, data []byte) bool {
		if subject != "claim" || !strings.Contains(string(data), id) {
			return false
		}
		lossy.drop = nil
		return true
	}
	lossy.mu.Unlock()
	newer := b.dialID(id)
	newer.join("cluster/lost-claim")
	// Twenty heartbeat intervals: every other loss is repaired by then.
	select {
	case <-closed:
	case <-time.After(20 * busHeartbeat):
		t.Fatalf("the older connection on A is still live %v after the newer one on B opened (B's claim was lost)", 20*busHeartbeat)
	}
}

// gatedClaimStore holds ClaimClient until release is closed.
type gatedClaimStore struct {
	*memstore.Store
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *gatedClaimStore) ClaimClient(ctx context.Context, claim syncd.ClientClaim) (syncd.ClientRecord, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return s.Store.ClaimClient(ctx, claim)
}

// A WebSocket upgrade that was past the cut-off check when CutOff ran
// (here: waiting for its client record, a store call) must not open and
// then stay open for the whole cut-off: "every WebSocket is closed with
// 1013" while cut off.
func TestCutOffRacingUpgrade(t *testing.T) {
	st := &gatedClaimStore{Store: memstore.New(memstore.Options{}), entered: make(chan struct{}), release: make(chan struct{})}
	ev := newEnvStore(t, st, syncd.Options{}, server.Options{})
	type dialed struct {
		c   *client
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		c, _, err := ev.tryDial(dialOpts{clientID: newClientID(), query: url.Values{"attempt": {"att-000001"}}})
		done <- dialed{c, err}
	}()
	<-st.entered
	ev.server.CutOff("no answer from NATS")
	close(st.release)
	d := <-done
	if d.err != nil {
		return // refused: fine
	}
	closed := d.c.closeCodeAsync()
	select {
	case code := <-closed:
		if code != protocol.CloseTryAgainLater {
			t.Fatalf("closed with %d, want %d", code, protocol.CloseTryAgainLater)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("a connection opened while cut off is still open")
	}
}
