package delta

import (
	"strconv"
	"strings"
)

// ParsePointer splits a JSON Pointer (RFC 6901) into its reference tokens,
// unescaping ~1 to "/" and ~0 to "~". The empty string is the whole document
// and has no tokens. Errors wrap ErrInvalidPatch, because pointers reach this
// package inside patches.
func ParsePointer(s string) ([]string, error) {
	p, err := parsePointer(s)
	if err != nil {
		return nil, &Error{Op: -1, Path: s, Err: ErrInvalidPatch, Reason: err.Error()}
	}
	return p.toks, nil
}

// pointer is a parsed JSON Pointer that keeps its text: a path cut short at
// some token is then a substring of the text, and recording it as touched
// (Change.touch) allocates nothing.
type pointer struct {
	text string
	toks []string
}

type pointerError string

func (e pointerError) Error() string { return string(e) }

func parsePointer(s string) (pointer, error) {
	p, _, err := parsePointerInto(s, make([]string, 0, strings.Count(s, "/")))
	return p, err
}

// parsePointerInto parses s, appending its tokens to buf, whose capacity
// should suffice (one token per '/'), so that the pointers of a patch can
// share one allocation. The pointer's tokens are capped where they end, so
// appending to buf later does not touch them. It returns buf extended.
func parsePointerInto(s string, buf []string) (pointer, []string, error) {
	p := pointer{text: s}
	if s == "" {
		return p, buf, nil
	}
	if s[0] != '/' {
		return p, buf, pointerError("a JSON Pointer must be empty or start with '/'")
	}
	first := len(buf)
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i+1:], '/')
		if j < 0 {
			j = len(s)
		} else {
			j += i + 1
		}
		tok, err := unescapeToken(s[i+1 : j])
		if err != nil {
			return p, buf[:first], err
		}
		buf = append(buf, tok)
		i = j
	}
	p.toks = buf[first:len(buf):len(buf)]
	return p, buf, nil
}

// unescapeToken turns ~1 into "/" and ~0 into "~"; any other "~" is an error.
// Tokens without "~" (nearly all) are returned as they are, not copied.
func unescapeToken(t string) (string, error) {
	i := strings.IndexByte(t, '~')
	if i < 0 {
		return t, nil
	}
	var b strings.Builder
	b.Grow(len(t))
	for ; i >= 0; i = strings.IndexByte(t, '~') {
		b.WriteString(t[:i])
		if i+1 >= len(t) || (t[i+1] != '0' && t[i+1] != '1') {
			return "", pointerError("'~' must be followed by '0' or '1' in a JSON Pointer")
		}
		if t[i+1] == '0' {
			b.WriteByte('~')
		} else {
			b.WriteByte('/')
		}
		t = t[i+2:]
	}
	b.WriteString(t)
	return b.String(), nil
}

// prefix returns the text of the pointer made of the first k tokens: the
// text up to the '/' before token k, which is the text's (k+1)-th '/'
// (a '/' inside a token is escaped as "~1").
func (p *pointer) prefix(k int) string {
	if k >= len(p.toks) {
		return p.text
	}
	for i := 0; i < len(p.text); i++ {
		if p.text[i] == '/' {
			if k == 0 {
				return p.text[:i]
			}
			k--
		}
	}
	return p.text
}

// isProperPrefixOf reports whether p names an ancestor of q.
func (p *pointer) isProperPrefixOf(q *pointer) bool {
	return len(p.toks) < len(q.toks) && pathPrefix(p.text, q.text)
}

// appendToken appends "/" and the escaped token t to a pointer's text.
func appendToken(dst []byte, t string) []byte {
	dst = append(dst, '/')
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '~':
			dst = append(dst, '~', '0')
		case '/':
			dst = append(dst, '~', '1')
		default:
			dst = append(dst, t[i])
		}
	}
	return dst
}

// arrayIndex reads an array index token for an array of length n. RFC 6901
// allows only "0" or digits without a leading zero: "01", "+1", "1e0" and
// " 1" name no element. "-" (the position after the last element) is
// accepted only when end is true, as the target of an add. It does not check
// the upper bound, which depends on the operation.
func arrayIndex(tok string, n int, end bool) (int, bool) {
	if tok == "-" {
		return n, end
	}
	if tok == "" || len(tok) > 18 || (tok[0] == '0' && len(tok) > 1) {
		return 0, false // 19 digits might overflow; no array is that long
	}
	for i := 0; i < len(tok); i++ {
		if !isDigit(tok[i]) {
			return 0, false
		}
	}
	i, err := strconv.Atoi(tok)
	return i, err == nil
}
