package linearize

import (
	"fmt"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Kind is what an operation does.
type Kind int

const (
	// Commit sets Input.Key.
	Commit Kind = iota + 1
	// Read reads the document's revision and state.
	Read
)

// Input is an operation's invocation.
type Input struct {
	Kind Kind
	Key  string // Commit: the key it sets
	Via  string // how it reached syncd ("sdk", "http", "join") and where: shown in visualizations
}

// Output is an operation's result.
type Output struct {
	// Rev is the revision a commit was assigned, or the revision a read
	// returned.
	Rev uint64
	// Epoch and Keys are a read's document: its epoch and its top-level
	// keys.
	Epoch string
	Keys  []string
	// Refused: the commit was refused for good; it changed nothing.
	Refused bool
	// Unknown: the commit's outcome was never learnt (the client gave up
	// waiting, or the server could not tell after a reconnect). It may
	// have taken effect, once, or not at all.
	Unknown bool
}

// State is a document as the model sees it. Keys is the set of top-level
// keys, sorted and joined with "\n", so that states compare with ==
// (porcupine caches visited states by equality).
type State struct {
	Epoch string
	Rev   uint64
	Keys  string
}

// NewState returns the state of a document at epoch and rev with keys.
func NewState(epoch string, rev uint64, keys []string) State {
	return State{Epoch: epoch, Rev: rev, Keys: joinKeys(keys)}
}

func joinKeys(keys []string) string {
	s := slices.Clone(keys)
	slices.Sort(s)
	return strings.Join(s, "\n")
}

func (s State) has(key string) bool {
	if s.Keys == "" {
		return false
	}
	_, found := slices.BinarySearch(splitKeys(s.Keys), key)
	return found
}

func (s State) with(key string) State {
	var keys []string
	if s.Keys != "" {
		keys = splitKeys(s.Keys)
	}
	return State{Epoch: s.Epoch, Rev: s.Rev + 1, Keys: joinKeys(append(keys, key))}
}

func (s State) count() int {
	if s.Keys == "" {
		return 0
	}
	return strings.Count(s.Keys, "\n") + 1
}

// Model is the porcupine model of one document that starts in init.
func Model(init State) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return init },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(State), input.(Input), output.(Output)
			switch in.Kind {
			case Commit:
				switch {
				case out.Refused:
					return true, s
				case s.has(in.Key):
					// Each key is set by one commit: seeing it set
					// again means the edit was applied twice.
					return false, s
				case out.Unknown:
					return true, s.with(in.Key)
				default:
					return out.Rev == s.Rev+1, s.with(in.Key)
				}
			case Read:
				return out.Epoch == s.Epoch && out.Rev == s.Rev && joinKeys(out.Keys) == s.Keys, s
			}
			return false, s
		},
		DescribeOperation: describe,
		DescribeState: func(state any) string {
			s := state.(State)
			return fmt.Sprintf("rev %d, %d keys", s.Rev, s.count())
		},
	}
}

func describe(input, output any) string {
	in, out := input.(Input), output.(Output)
	switch {
	case in.Kind == Commit && out.Refused:
		return fmt.Sprintf("commit %s (%s) → refused", in.Key, in.Via)
	case in.Kind == Commit && out.Unknown:
		return fmt.Sprintf("commit %s (%s) → unknown", in.Key, in.Via)
	case in.Kind == Commit:
		return fmt.Sprintf("commit %s (%s) → rev %d", in.Key, in.Via, out.Rev)
	default:
		return fmt.Sprintf("read (%s) → rev %d, %d keys", in.Via, out.Rev, len(out.Keys))
	}
}

func splitKeys(joined string) []string { return strings.Split(joined, "\n") }
