package server

import (
	"time"
)

// Authentication (Options.JWTSecret or Options.JWTKeys set): a connection
// presents a JWT, as ws-kit's client does, in the query parameter
// access_token, in a Sec-WebSocket-Protocol entry "bearer.<token>", or in
// an "Authorization: Bearer <token>" header. It is verified by
// tokenVerifier (jwtverify.go): HS256 with the secret, or RS256, ES256 or
// EdDSA with the public keys. Claims:
//
//	sub   (required) the user; a client id belongs to the first user that used it
//	exp   (optional) expiry, checked with Options.JWTLeeway at the upgrade,
//	      and again while connected: at exp + leeway the connection is
//	      closed with 4401 unless an AUTH.REFRESH brought a newer token
//	nbf   (optional) not before, with the same leeway
//	aud   (required when Options.JWTAudience is set) must name it
//	iss   (required when Options.JWTIssuer is set) must equal it
//	docs  (optional) {"read": [patterns], "write": [patterns]}: the
//	      document ids the user may join and edit; absent means all,
//	      null means none
//	topics (optional) {"read": [patterns], "write": [patterns]}: the
//	      topics the user may SUBSCRIBE to (read) and PUBLISH to (write);
//	      absent means none (see permissions.go)
//
// A pattern is a document id in which "*" matches any run of characters
// (including "/") — "team:42/*" — and "?" matches one (pattern.go).

// User is an authenticated user and what it may touch.
type User struct {
	ID string
	// Read and Write are the user's document-id patterns; nil means any.
	Read, Write []string
	// Expires is the token's exp; zero when it has none.
	Expires time.Time

	// TopicRead and TopicWrite are the user's topic patterns (the topics
	// claim); nil means none (permissions.go).
	TopicRead, TopicWrite []string

	// read, write, topicRead and topicWrite are the patterns compiled
	// once, when the token is verified, rather than on every message.
	read, write, topicRead, topicWrite []docPattern
}

func newUser(id string, read, write []string, expires time.Time) *User {
	return &User{ID: id, Read: read, Write: write, Expires: expires,
		read: compilePatterns(read), write: compilePatterns(write)}
}

// CanRead reports whether u may join doc.
func (u *User) CanRead(doc string) bool {
	return u == nil || u.Read == nil || matchAny(compiled(u.read, u.Read), doc)
}

// CanWrite reports whether u may edit doc.
func (u *User) CanWrite(doc string) bool {
	return u == nil || u.Write == nil || matchAny(compiled(u.write, u.Write), doc)
}

// compiled returns c when it is ps compiled, and compiles ps otherwise (a
// User built by hand, not by newUser).
func compiled(c []docPattern, ps []string) []docPattern {
	if len(c) == len(ps) {
		return c
	}
	return compilePatterns(ps)
}

// nonNil makes an absent list explicit-and-empty: a docs claim that names
// only "read" grants no writes.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
