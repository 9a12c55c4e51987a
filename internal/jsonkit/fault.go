package jsonkit

// FaultKind says what ScanString or ScanNumber found wrong. The callers
// word their errors differently (the protocol names the problem, delta
// words it as encoding/json does), so the toolkit reports a kind and an
// offset, never a text.
type FaultKind uint8

const (
	NoFault FaultKind = iota
	// FaultEnd: the input ends inside the string.
	FaultEnd
	// FaultEndInEscape: the input ends just after a backslash.
	FaultEndInEscape
	// FaultBadEscape: a backslash is followed by a byte that starts no
	// escape; Off is that byte.
	FaultBadEscape
	// FaultBadHex: a \u escape has a byte that is not a hex digit (Off),
	// or the input ends inside it (Off is then len(d)).
	FaultBadHex
	// FaultControl: a control character (below 0x20) inside a string.
	FaultControl
	// FaultBadUTF8: invalid UTF-8 inside a string, when it must be valid.
	FaultBadUTF8
	// FaultLoneSurrogate: a \u escape of a UTF-16 surrogate that is not
	// half of a high-low pair, when strings must be valid; Off and Esc are
	// its backslash.
	FaultLoneSurrogate
	// FaultNumber: no digit where a number's integer part starts.
	FaultNumber
	// FaultFraction: no digit after a number's decimal point.
	FaultFraction
	// FaultExponent: no digit in a number's exponent.
	FaultExponent
)

// Fault is what is wrong with the input and where. Off is the offending
// byte's offset (len of the input when it ended too soon); Esc, for the
// faults of an escape, is the offset of its backslash.
type Fault struct {
	Kind FaultKind
	Off  int
	Esc  int
}
