package natsstore

import (
	"errors"
	"fmt"
	"strings"
)

// names are the stream and subjects of one prefix.
type names struct {
	stream                     string
	logPre, snapPre, clientPre string // each ends with '.'
	logAll, snapAll, clientAll string // the stream's subjects
}

func newNames(prefix string) names {
	n := names{
		stream:    prefix,
		logPre:    prefix + ".log.",
		snapPre:   prefix + ".snap.",
		clientPre: prefix + ".client.",
	}
	n.logAll, n.snapAll, n.clientAll = n.logPre+"*", n.snapPre+"*", n.clientPre+"*"
	return n
}

func (n names) log(doc string) (string, error) {
	t, err := encodeToken(doc)
	return n.logPre + t, err
}

func (n names) snap(doc string) (string, error) {
	t, err := encodeToken(doc)
	return n.snapPre + t, err
}

func (n names) client(id string) (string, error) {
	t, err := encodeToken(id)
	return n.clientPre + t, err
}

// docOfLog returns the document id of a log subject.
func (n names) docOfLog(subject string) (string, error) {
	t, ok := strings.CutPrefix(subject, n.logPre)
	if !ok {
		return "", fmt.Errorf("natsstore: subject %q is not a log subject", subject)
	}
	return decodeToken(t)
}

// encodeToken turns an id (any bytes) into one subject token that is also a
// valid KV key: letters, digits and '-' stand for themselves, every other
// byte is '_' and two upper-case hex digits. Subject tokens may not hold
// '.', '*', '>' or white space, and document ids may hold '.', ':' and '/'
// (docid.go); the escape keeps ids readable in `nats stream view` and is
// reversible. It does not keep the order of ids (List sorts; doc.go).
func encodeToken(id string) (string, error) {
	if id == "" {
		return "", errors.New("natsstore: empty id")
	}
	var b strings.Builder
	b.Grow(len(id))
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
			continue
		}
		const hexdig = "0123456789ABCDEF"
		b.WriteByte('_')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String(), nil
}

func decodeToken(t string) (string, error) {
	if t == "" {
		return "", errors.New("natsstore: empty token")
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '_' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(t) {
			return "", fmt.Errorf("natsstore: token %q: truncated escape", t)
		}
		hi, lo := unhex(t[i+1]), unhex(t[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("natsstore: token %q: bad escape", t)
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
