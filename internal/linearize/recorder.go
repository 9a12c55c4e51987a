package linearize

import (
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Recorder collects a history of operations. Its methods are safe to call
// from many goroutines at once.
type Recorder struct {
	start time.Time // timestamps are nanoseconds since start, on the monotonic clock

	mu    sync.Mutex
	calls []*Call
}

// NewRecorder returns an empty recorder whose clock starts now.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Call is one invoked operation. Exactly one of Return, Unknown or Discard
// should end it; one left open counts as Unknown.
type Call struct {
	r      *Recorder
	client int
	input  Input
	call   int64
	// Guarded by r.mu.
	output   Output
	ret      int64
	done     bool
	dropped  bool
	metadata string
}

func (r *Recorder) now() int64 { return int64(time.Since(r.start)) }

// Invoke records that client (a small number, one per sequential actor,
// from 0) invoked in, now.
func (r *Recorder) Invoke(client int, in Input) *Call {
	c := &Call{r: r, client: client, input: in, call: r.now()}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return c
}

// Return records the operation's result, now.
func (c *Call) Return(out Output) {
	t := c.r.now()
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if !c.done {
		c.output, c.ret, c.done = out, t, true
	}
}

// Unknown records that the operation's outcome will never be known: it
// is checked as if it returned after everything else, so it may take
// effect anywhere after its invocation, or (being last) not matter.
func (c *Call) Unknown() {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.done = true
	c.output = Output{Unknown: true}
	c.ret = -1
}

// Discard drops an operation that cannot have changed anything (a read
// that failed): it is left out of the history.
func (c *Call) Discard() {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.done, c.dropped = true, true
}

// Note attaches a remark shown with the operation in a visualization
// (for example the error that made its outcome unknown).
func (c *Call) Note(s string) {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.metadata = s
}

// Operations returns the history so far. Operations still open, and those
// marked Unknown, return after every other operation.
func (r *Recorder) Operations() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := r.now()
	for _, c := range r.calls {
		end = max(end, c.ret+1)
	}
	ops := make([]porcupine.Operation, 0, len(r.calls))
	for _, c := range r.calls {
		if c.dropped {
			continue
		}
		op := porcupine.Operation{ClientId: c.client, Input: c.input, Call: c.call, Output: c.output, Return: c.ret, Metadata: c.metadata}
		if !c.done || c.ret < 0 {
			op.Output, op.Return = Output{Unknown: true}, end
		}
		ops = append(ops, op)
	}
	return ops
}
