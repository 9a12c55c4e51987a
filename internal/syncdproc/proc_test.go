package syncdproc_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/deltasync/syncd/internal/syncdproc"
)

func TestStartServeStop(t *testing.T) {
	p := syncdproc.Start(t, syncdproc.Options{Args: []string{"-store", "memory"}})
	resp, err := http.Get(p.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz %d", resp.StatusCode)
	}
	if rss := p.RSS(); rss <= 0 {
		t.Fatalf("RSS %d", rss)
	}
	p.RequireRSSBelow(1 << 30)
	if err := p.Stop(20 * time.Second); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.Log())
	}
	if p.Running() {
		t.Fatal("still running")
	}
}
