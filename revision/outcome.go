package revision

// MaxOutcomes is how many of a client's most recent decisions in one
// document are kept (per document and client id, for as long as its
// watermark: until the document is deleted or starts a new epoch). A client
// that loses its connection with more edits in flight than this cannot learn
// the outcome of the oldest ones from a snapshot answer (PROTOCOL.md §6.8).
const MaxOutcomes = 32

// Outcome is what became of one decided request id: committed as revision
// Rev, or, when Code is set, refused with Code (an engine code name, such
// as "conflict"; Rev is then 0).
type Outcome struct {
	ReqID string
	Rev   Rev
	Code  string
}

// Committed reports whether the request was committed (not refused).
func (o Outcome) Committed() bool { return o.Code == "" }

// AddOutcome returns outs with o appended, keeping only the newest
// MaxOutcomes. Decisions of one client in one document are made in
// increasing request-id order, so outs stays ordered by request id, oldest
// first. Like append, it may write into outs' array: a caller that shares
// outs clones it first.
func AddOutcome(outs []Outcome, o Outcome) []Outcome {
	if len(outs) < MaxOutcomes {
		return append(outs, o)
	}
	next := make([]Outcome, 0, MaxOutcomes)
	next = append(next, outs[len(outs)-MaxOutcomes+1:]...)
	return append(next, o)
}

// OutcomesUpTo returns the outcomes of outs whose request id is at or below
// w: those a catch-up answer carrying watermark w may report.
func OutcomesUpTo(outs []Outcome, w string) []Outcome {
	n := len(outs)
	for n > 0 && CompareReqID(outs[n-1].ReqID, w) > 0 {
		n--
	}
	return outs[:n]
}

// Refused returns the outcome of a refusal of reqID with code; an empty
// code (a refusal whose reason was not kept) reads "refused".
func Refused(reqID, code string) Outcome {
	if code == "" {
		code = "refused"
	}
	return Outcome{ReqID: reqID, Code: code}
}
