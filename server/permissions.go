package server

import "github.com/deltasync/syncd/protocol"

// Permissions: what a token allows on a connection. Without authentication
// (no JWTSecret) the session has no user and everything is allowed. With
// it, every message that reads or writes something names the right it
// needs:
//
//	JOIN                      read on the document
//	JOIN with presence        write on the document
//	UPDATE                    write on the document
//	PRESENCE.SET              write on the document
//	PUBLISH {doc}             write on the document
//	SUBSCRIBE                 read on the topic
//	PUBLISH {topic}           write on the topic
//	LEAVE, UNSUBSCRIBE,       none (leaving is always allowed;
//	HEARTBEAT                 a heartbeat touches nothing)
//
// The rule behind the table: read is to receive, write is to send to
// others. Presence and room messages are sent to everyone in the room,
// writers included, so they need write: a read-only token (a viewer, an
// embed on a public page) must not give its holder a channel to the
// document's editors. Readers still receive everyone's presence and room
// messages. The same rule makes a topic's read right SUBSCRIBE and its
// write right PUBLISH (and a PUBLISH to a topic needs the subscription
// too, so in practice both).
//
// The state a message needs (the document joined, the topic subscribed)
// is checked before the right, as for UPDATE (PROTOCOL.md §7.2), so a
// client that has not joined learns that first.
//
// Documents are granted by the token's docs claim (absent: all documents,
// as before topics existed); topics by its topics claim (absent: no
// topics, since a token written before topics had permissions must not
// silently grant every topic).

// topicsClaim is the JWT claim {"read": [patterns], "write": [patterns]}
// naming the topics a user may subscribe and publish to, with the
// patterns of the docs claim (auth.go). A missing list allows nothing.
type topicsClaim struct {
	Read  []string `json:"read"`
	Write []string `json:"write"`
}

// grant gives u the topics of the claim; a nil claim grants none.
func (c *topicsClaim) grant(u *User) {
	if c != nil {
		u.TopicRead, u.TopicWrite = c.Read, c.Write
		u.topicRead, u.topicWrite = compilePatterns(c.Read), compilePatterns(c.Write)
	}
}

// CanSubscribe reports whether u may subscribe to topic.
func (u *User) CanSubscribe(topic string) bool {
	return u == nil || matchAny(compiled(u.topicRead, u.TopicRead), topic)
}

// CanPublish reports whether u may publish to topic.
func (u *User) CanPublish(topic string) bool {
	return u == nil || matchAny(compiled(u.topicWrite, u.TopicWrite), topic)
}

// The refusals, PERMISSION_DENIED, each saying which right was missing.
var (
	errPresenceForbidden     = protocol.NewError(protocol.CodePermissionDenied, "presence in a document's room needs the right to write the document")
	errRoomPublishForbidden  = protocol.NewError(protocol.CodePermissionDenied, "publishing in a document's room needs the right to write the document")
	errSubscribeForbidden    = protocol.NewError(protocol.CodePermissionDenied, "this token does not allow subscribing to this topic")
	errTopicPublishForbidden = protocol.NewError(protocol.CodePermissionDenied, "this token does not allow publishing to this topic")
)

// docDetails and topicDetails name what a refusal is about.
type docDetails struct {
	Doc string `json:"doc"`
}

type topicDetails struct {
	Topic string `json:"topic"`
}
