package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Flag values are checked in two places, both generic so that a new flag
// gets the same treatment by adding a row, not code:
//
//   - while parsing, every duration flag explains a value without a unit
//     (hintDurations), since "parse error" alone sends people to the docs;
//   - after parsing, Config.rules lists what each numeric flag allows
//     (positive, atLeast, longerThan), and a value outside it is refused with
//     a message that names the flag, the value (and the environment
//     variable it came from) and what is allowed. A value that would
//     otherwise silently become the default, such as -rate 0, is refused
//     the same way.

// flagRule is what one flag's value must satisfy.
type flagRule struct {
	flag  string // without the dash
	value any
	ok    bool
	want  string // what is allowed, e.g. "greater than 0"
}

// positive: the value must be greater than 0.
func positive[T int | int64 | float64 | time.Duration](flag string, v T) flagRule {
	return flagRule{flag: flag, value: v, ok: v > 0, want: "greater than 0"}
}

// atLeast: the value must be min or more.
func atLeast[T int | int64 | float64 | time.Duration](flag string, v, min T) flagRule {
	return flagRule{flag: flag, value: v, ok: v >= min, want: fmt.Sprintf("at least %v", min)}
}

// between: the value must be from min to max, both included.
func between[T int | int64 | float64 | time.Duration](flag string, v, min, max T) flagRule {
	return flagRule{flag: flag, value: v, ok: v >= min && v <= max, want: fmt.Sprintf("from %v to %v", min, max)}
}

// longerThan: the duration must exceed another flag's value.
func longerThan(flag string, v time.Duration, other string, ov time.Duration) flagRule {
	return flagRule{flag: flag, value: v, ok: v > ov, want: fmt.Sprintf("longer than -%s (%v)", other, ov)}
}

// checkRules returns the error of the first rule broken. envNames maps the
// flags set from the environment to their variable.
func checkRules(rules []flagRule, envNames map[string]string) error {
	for _, r := range rules {
		if r.ok {
			continue
		}
		from := ""
		if name := envNames[r.flag]; name != "" {
			from = " (from " + name + ")"
		}
		return fmt.Errorf("invalid value %v for -%s%s: must be %s", r.value, r.flag, from, r.want)
	}
	return nil
}

// hintDurations wraps every duration flag of fs so that a value it cannot
// parse is explained.
func hintDurations(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if g, ok := f.Value.(flag.Getter); ok {
			if _, isDuration := g.Get().(time.Duration); isDuration {
				f.Value = durationHint{g}
			}
		}
	})
}

// durationHint is a duration flag whose errors say what a duration looks
// like. (flag's own error for "-heartbeat 5" is "parse error".)
type durationHint struct{ flag.Getter }

// String is the wrapped flag's, and "0s" for the zero durationHint, which
// flag's usage makes (by reflection) to tell whether a default is zero.
func (d durationHint) String() string {
	if d.Getter == nil {
		return time.Duration(0).String()
	}
	return d.Getter.String()
}

func (d durationHint) Set(s string) error {
	if err := d.Getter.Set(s); err != nil {
		if _, numErr := strconv.ParseFloat(strings.TrimSpace(s), 64); numErr == nil {
			return fmt.Errorf("a duration needs a unit: use e.g. %ss or %sms", strings.TrimSpace(s), strings.TrimSpace(s))
		}
		return fmt.Errorf("not a duration: use a number with a unit, e.g. 10s, 500ms or 2m")
	}
	return nil
}
