package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Guessing the admin key online against a real syncd: parallel wrong-key
// sign-ins and made-up session cookies. The guesses are cut off by the
// per-address rate limit (429) after a few, none gets in, the process stays
// up and small, others are served as usual, and the right key still signs
// in once the burst is over.
func TestAttackAdminKeyGuessing(t *testing.T) {
	const key = "the-admin-key-of-the-attack-test"
	p := startSyncd(t, "-admin-key", key, "-store", "memory")
	client := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signIn := func(k string) int {
		resp, err := client.PostForm(p.URL+"/admin/login", url.Values{"key": {k}})
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	var refused, limited, admitted, unauthorized atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * time.Second)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 150 && time.Now().Before(deadline); i++ {
				switch signIn("guess-" + strings.Repeat("x", w) + string(rune('a'+i%26))) {
				case http.StatusUnauthorized:
					refused.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				case http.StatusSeeOther:
					admitted.Add(1)
				}
				// A made-up session cookie reads nothing either.
				req, _ := http.NewRequest("GET", p.URL+"/admin/api/overview", nil)
				req.AddCookie(&http.Cookie{Name: "syncd_admin", Value: strings.Repeat("f", 64)})
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusUnauthorized {
						unauthorized.Add(1)
					} else {
						admitted.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("wrong keys refused %d, rate-limited %d; forged cookies refused %d", refused.Load(), limited.Load(), unauthorized.Load())
	if admitted.Load() != 0 {
		t.Fatalf("%d guesses got in", admitted.Load())
	}
	// 2 tries a second, a burst of 5: over 3 s at most about 5 + 2×3 are
	// even compared with the key.
	if n := refused.Load(); n > 15 || limited.Load() == 0 {
		t.Fatalf("%d wrong keys were compared, %d rate-limited: want at most 15 compared and the rest limited", n, limited.Load())
	}
	p.RequireRSSBelow(200 << 20)
	requireServes(t, p, dialOpts{})

	// The operator still gets in, once the bucket has refilled a little.
	for i := 0; ; i++ {
		status := signIn(key)
		if status == http.StatusSeeOther {
			break
		}
		if i >= 20 {
			t.Fatalf("the right key after the attack: HTTP %d", status)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
