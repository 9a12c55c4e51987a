package delta

import (
	"math/big"
	"strconv"
)

// number is a JSON number literal split into its parts. Numbers are compared
// from these parts, in decimal, never through float64: two different
// integers above 2^53 would round to the same float64 and compare equal,
// and a test operation must not succeed on a value that differs.
type number struct {
	neg    bool
	intp   string // integer digits, without sign
	frac   string // fraction digits, "" if none
	expNeg bool
	exp    string // exponent digits, "" if none
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseNumber splits s; ok is false when s is not a JSON number
// (RFC 8259 §6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?).
func parseNumber(s string) (n number, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		n.neg = true
		i++
	}
	start := i
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digitsEnd(s, i)
	default:
		return n, false
	}
	n.intp = s[start:i]
	if i < len(s) && s[i] == '.' {
		start = i + 1
		if i = digitsEnd(s, start); i == start {
			return n, false
		}
		n.frac = s[start:i]
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			n.expNeg = s[i] == '-'
			i++
		}
		start = i
		if i = digitsEnd(s, start); i == start {
			return n, false
		}
		n.exp = s[start:i]
	}
	return n, i == len(s)
}

// digitsEnd returns the index after the run of digits at s[i:].
func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// validNumber reports whether s is a JSON number literal.
func validNumber(s string) bool {
	_, ok := parseNumber(s)
	return ok
}

// digit returns the i-th digit of the mantissa intp+frac, without building it.
func (n *number) digit(i int) byte {
	if i < len(n.intp) {
		return n.intp[i]
	}
	return n.frac[i-len(n.intp)]
}

// significant returns the range [lo, hi) of the mantissa that holds its
// significant digits (no leading or trailing zeros); lo == hi for zero.
func (n *number) significant() (lo, hi int) {
	l := len(n.intp) + len(n.frac)
	for lo < l && n.digit(lo) == '0' {
		lo++
	}
	hi = l
	for hi > lo && n.digit(hi-1) == '0' {
		hi--
	}
	return lo, hi
}

// numberEqual reports whether the JSON number literals a and b denote the same
// value. With the significant digits D and the value D × 10^e, two non-zero
// numbers are equal exactly when sign, D and e are; all zeros are equal.
func numberEqual(a, b string) bool {
	if a == b {
		return validNumber(a)
	}
	na, ok := parseNumber(a)
	if !ok {
		return false
	}
	nb, ok := parseNumber(b)
	if !ok {
		return false
	}
	alo, ahi := na.significant()
	blo, bhi := nb.significant()
	if alo == ahi || blo == bhi {
		return alo == ahi && blo == bhi
	}
	if na.neg != nb.neg || ahi-alo != bhi-blo {
		return false
	}
	for i := 0; i < ahi-alo; i++ {
		if na.digit(alo+i) != nb.digit(blo+i) {
			return false
		}
	}
	// The value is D × 10^(exp - len(frac) + trailing zeros dropped); the
	// adjustment is bounded by the literal's length, the exponent is not.
	aadj := int64(len(na.intp)+len(na.frac)-ahi) - int64(len(na.frac))
	badj := int64(len(nb.intp)+len(nb.frac)-bhi) - int64(len(nb.frac))
	return exponentEqual(na.expNeg, na.exp, aadj, nb.expNeg, nb.exp, badj)
}

// exponentEqual reports whether ±ea + aadj == ±eb + badj, where ea and eb
// are decimal digit strings of any length.
func exponentEqual(aneg bool, ea string, aadj int64, bneg bool, eb string, badj int64) bool {
	ea, eb = trimZeros(ea), trimZeros(eb)
	// Up to 17 digits fit an int64 with room for the adjustment; longer
	// exponents are absurd but valid JSON, so they take the slow path
	// rather than being misread.
	if len(ea) <= 17 && len(eb) <= 17 {
		return signedExp(aneg, ea)+aadj == signedExp(bneg, eb)+badj
	}
	x, y := bigExp(aneg, ea, aadj), bigExp(bneg, eb, badj)
	return x.Cmp(y) == 0
}

func trimZeros(s string) string {
	for len(s) > 0 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func signedExp(neg bool, digits string) int64 {
	if digits == "" {
		return 0
	}
	v, _ := strconv.ParseInt(digits, 10, 64) // at most 17 digits: cannot fail
	if neg {
		return -v
	}
	return v
}

func bigExp(neg bool, digits string, adj int64) *big.Int {
	v := new(big.Int)
	if digits != "" {
		v.SetString(digits, 10)
	}
	if neg {
		v.Neg(v)
	}
	return v.Add(v, big.NewInt(adj))
}
