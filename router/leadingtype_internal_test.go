package router

import (
	"strings"
	"testing"
)

func TestLeadingType(t *testing.T) {
	for in, want := range map[string]string{
		`{"type":"UPDATE","payload":{}}`:              "UPDATE",
		`{"type":"chat.SEND"}`:                        "chat.SEND",
		`{"type":""}`:                                 "",
		`{"type":"UP\"DATE"}`:                         "",
		`{"type":"UPDATE`:                             "",
		`{ "type":"UPDATE"}`:                          "",
		`{"meta":{},"type":"UPDATE"}`:                 "",
		`{"type":"` + strings.Repeat("A", 200) + `"}`: "",
		``: "",
	} {
		if got := leadingType([]byte(in)); got != want {
			t.Errorf("leadingType(%.40q) = %q, want %q", in, got, want)
		}
	}
}
