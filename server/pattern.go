package server

import "strings"

// docPattern is a compiled document-id pattern of a token's docs claim: "*"
// matches any run of bytes (including "/", which path.Match would not
// cross) and "?" exactly one byte (document ids are ASCII, so a byte is a
// character).
//
// Why not recursion: trying every split for every "*" is exponential in
// the number of stars — "*a*a*a*a*a*a*b" against a 128-character id runs
// for minutes. A glob with only "*" and "?" needs no backtracking at all:
// split at the stars, the first part must match the start of the id, the
// last part its end, and each middle part may take its leftmost
// occurrence after the previous one (any later occurrence leaves less room
// for the parts that follow, never more). So a match costs at most
// len(id) × len(pattern) byte comparisons, with no allocation.
type docPattern struct {
	// parts are the pattern split at its stars, with empty middle parts
	// (from "**") dropped; without a star, parts has one element that
	// must match the whole id.
	parts []string
	star  bool
}

func compilePattern(p string) docPattern {
	if !strings.Contains(p, "*") {
		return docPattern{parts: []string{p}}
	}
	split := strings.Split(p, "*")
	parts := make([]string, 0, len(split))
	for i, s := range split {
		if s != "" || i == 0 || i == len(split)-1 {
			parts = append(parts, s)
		}
	}
	return docPattern{parts: parts, star: true}
}

func compilePatterns(ps []string) []docPattern {
	if ps == nil {
		return nil
	}
	out := make([]docPattern, len(ps))
	for i, p := range ps {
		out[i] = compilePattern(p)
	}
	return out
}

// match reports whether s matches the whole pattern.
func (p docPattern) match(s string) bool {
	first := p.parts[0]
	if !p.star {
		return len(s) == len(first) && partMatches(first, s)
	}
	last := p.parts[len(p.parts)-1]
	if len(s) < len(first)+len(last) ||
		!partMatches(first, s[:len(first)]) ||
		!partMatches(last, s[len(s)-len(last):]) {
		return false
	}
	rest := s[len(first) : len(s)-len(last)]
	for _, mid := range p.parts[1 : len(p.parts)-1] {
		i := indexPart(rest, mid)
		if i < 0 {
			return false
		}
		rest = rest[i+len(mid):]
	}
	return true
}

// partMatches reports whether s (as long as part) matches part, a piece of
// pattern without stars.
func partMatches(part, s string) bool {
	for i := 0; i < len(part); i++ {
		if part[i] != '?' && part[i] != s[i] {
			return false
		}
	}
	return true
}

// indexPart returns the first index in s where part matches, or -1.
func indexPart(s, part string) int {
	if !strings.Contains(part, "?") {
		return strings.Index(s, part)
	}
	for i := 0; i+len(part) <= len(s); i++ {
		if partMatches(part, s[i:i+len(part)]) {
			return i
		}
	}
	return -1
}

func matchAny(patterns []docPattern, doc string) bool {
	for _, p := range patterns {
		if p.match(doc) {
			return true
		}
	}
	return false
}
