package server

import (
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Authentication (Options.JWTSecret set): a connection presents an HS256
// JWT, as ws-kit's client does, in the query parameter access_token, in a
// Sec-WebSocket-Protocol entry "bearer.<token>", or in an
// "Authorization: Bearer <token>" header. Claims:
//
//	sub   (required) the user; a client id belongs to the first user that used it
//	exp   (optional) expiry, checked
//	docs  (optional) {"read": [patterns], "write": [patterns]}: the
//	      document ids the user may join and edit; absent means all
//	topics (optional) {"read": [patterns], "write": [patterns]}: the
//	      topics the user may SUBSCRIBE to (read) and PUBLISH to (write);
//	      absent means none (see permissions.go)
//
// A pattern is a document id in which "*" matches any run of characters
// (including "/") — "team:42/*" — and "?" matches one.

// User is an authenticated user and what it may touch.
type User struct {
	ID string
	// Read and Write are the user's document-id patterns; nil means any.
	Read, Write []string
	// TopicRead and TopicWrite are the user's topic patterns (the topics
	// claim); nil means none (permissions.go).
	TopicRead, TopicWrite []string
}

// CanRead reports whether u may join doc.
func (u *User) CanRead(doc string) bool { return u == nil || u.Read == nil || matchAny(u.Read, doc) }

// CanWrite reports whether u may edit doc.
func (u *User) CanWrite(doc string) bool { return u == nil || u.Write == nil || matchAny(u.Write, doc) }

type claims struct {
	jwt.RegisteredClaims
	Docs *struct {
		Read  []string `json:"read"`
		Write []string `json:"write"`
	} `json:"docs,omitempty"`
	Topics *topicsClaim `json:"topics,omitempty"` // permissions.go
}

// parseToken verifies an HS256 token and returns its user.
func parseToken(secret []byte, token string) (*User, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil && errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && c.ExpiresAt == nil {
		// exp is optional for us; re-check without requiring it.
		_, err = jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) { return secret, nil },
			jwt.WithValidMethods([]string{"HS256"}))
	}
	if err != nil {
		return nil, fmt.Errorf("invalid token: %w", err)
	}
	if c.Subject == "" {
		return nil, errors.New("invalid token: no sub claim")
	}
	u := &User{ID: c.Subject}
	if c.Docs != nil {
		u.Read, u.Write = nonNil(c.Docs.Read), nonNil(c.Docs.Write)
	}
	c.Topics.grant(u)
	return u, nil
}

// nonNil makes an absent list explicit-and-empty: a docs claim that names
// only "read" grants no writes.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func matchAny(patterns []string, doc string) bool {
	for _, p := range patterns {
		if match(p, doc) {
			return true
		}
	}
	return false
}

// match is a glob match where "*" matches any run of characters and "?"
// one character. Written here because path.Match stops "*" at "/", and
// document ids use "/" freely.
func match(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			rest := strings.TrimLeft(pattern, "*")
			if rest == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if match(rest, s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		default:
			if s == "" || pattern[0] != s[0] {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		}
	}
	return s == ""
}
