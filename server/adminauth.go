package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/netip"
	"sync"
	"time"
)

// The admin page's sign-in: the operator posts the admin key once, and gets
// a cookie holding a random session token, never the key itself, so that a
// leaked cookie expires and can be signed out, and the key never sits in
// the browser. Sessions live in memory only: a restart signs everyone out,
// which for an operator's page is the right default.

const (
	// adminCookie is the session cookie's name; its Path is /admin.
	adminCookie = "syncd_admin"
	// maxAdminSessions bounds the sessions kept. Only holders of the key
	// can create one, so this is a memory bound rather than a defence;
	// past it the session closest to its expiry is dropped.
	maxAdminSessions = 64
	// Wrong keys: a few tries per second per client address, so that the
	// key cannot be guessed online (keyguesses.go).
	signInRate  = 2
	signInBurst = 5
)

// adminSession is one signed-in browser.
type adminSession struct {
	csrf    string // sent back in the X-CSRF-Token header of every action
	expires time.Time
}

// adminAuth holds the key, the sessions and the sign-in rate limits.
type adminAuth struct {
	key []byte
	ttl time.Duration

	tries *addrLimiters // sign-in tries by client address (keyguesses.go)

	mu       sync.Mutex                 // guards sessions; never held across I/O
	sessions map[[32]byte]*adminSession // by the token's SHA-256
}

func newAdminAuth(key string, ttl time.Duration) *adminAuth {
	return &adminAuth{
		key: []byte(key), ttl: ttl,
		sessions: make(map[[32]byte]*adminSession),
		tries:    newAddrLimiters(signInRate, signInBurst),
	}
}

// allowTry reports whether addr may try a key now. Past maxLimitedAddrs
// addresses trying at once, every sign-in waits for the table to empty
// rather than letting new addresses in unchecked.
func (a *adminAuth) allowTry(addr netip.Addr, now time.Time) bool {
	l := a.tries.get(addr, now)
	return l != nil && l.AllowN(now, 1)
}

// keyMatches compares in constant time.
func (a *adminAuth) keyMatches(key string) bool {
	return subtle.ConstantTimeCompare([]byte(key), a.key) == 1
}

// newSession creates a session and returns its token and CSRF token.
func (a *adminAuth) newSession(now time.Time) (token string, s *adminSession) {
	token = randomToken()
	s = &adminSession{csrf: randomToken(), expires: now.Add(a.ttl)}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.sessions) >= maxAdminSessions {
		var oldest [32]byte
		var first time.Time
		for h, o := range a.sessions {
			if !o.expires.After(now) {
				delete(a.sessions, h)
			} else if first.IsZero() || o.expires.Before(first) {
				oldest, first = h, o.expires
			}
		}
		if len(a.sessions) >= maxAdminSessions {
			delete(a.sessions, oldest)
		}
	}
	a.sessions[sha256.Sum256([]byte(token))] = s
	return token, s
}

// session returns the live session of token, or nil.
func (a *adminAuth) session(token string, now time.Time) *adminSession {
	if token == "" {
		return nil
	}
	h := sha256.Sum256([]byte(token))
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[h]
	if s == nil {
		return nil
	}
	if !s.expires.After(now) {
		delete(a.sessions, h)
		return nil
	}
	return s
}

// endSession signs token out.
func (a *adminAuth) endSession(token string) {
	h := sha256.Sum256([]byte(token))
	a.mu.Lock()
	delete(a.sessions, h)
	a.mu.Unlock()
}

// csrfMatches compares a session's CSRF token in constant time.
func (s *adminSession) csrfMatches(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// randomToken is 32 random bytes in hex.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
