package jsonkit

// ScanNumber checks the number that starts at d[i] against the JSON
// grammar, -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, and
// returns where it ends and whether it is a non-negative integer (no sign,
// fraction or exponent). Runs of digits are skipped eight bytes at a time.
func ScanNumber(d []byte, i int) (end int, plainUint bool, f Fault) {
	plainUint = true
	if i < len(d) && d[i] == '-' {
		plainUint = false
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = DigitsEnd(d, i+1)
	default:
		return i, false, Fault{Kind: FaultNumber, Off: i}
	}
	if i < len(d) && d[i] == '.' {
		plainUint = false
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return i, false, Fault{Kind: FaultFraction, Off: i}
		}
		i = DigitsEnd(d, i+1)
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		plainUint = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return i, false, Fault{Kind: FaultExponent, Off: i}
		}
		i = DigitsEnd(d, i+1)
	}
	return i, plainUint, Fault{}
}
