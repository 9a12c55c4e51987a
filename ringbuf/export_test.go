package ringbuf

import (
	"fmt"
	"reflect"
)

// CheckInvariants reports the first broken internal invariant of r, so that
// the black-box tests can check the representation after every step without
// the package exporting it.
func CheckInvariants[T any](r *Ring[T]) error {
	switch {
	case len(r.buf) > r.capacity:
		return fmt.Errorf("backing array of %d slots over the capacity %d", len(r.buf), r.capacity)
	case len(r.buf) == 0 && (r.n != 0 || r.head != 0):
		return fmt.Errorf("no backing array but n = %d, head = %d", r.n, r.head)
	case r.n < 0 || r.n > len(r.buf):
		return fmt.Errorf("n = %d outside [0, %d]", r.n, len(r.buf))
	case len(r.buf) > 0 && (r.head < 0 || r.head >= len(r.buf)):
		return fmt.Errorf("head = %d outside [0, %d)", r.head, len(r.buf))
	case uint64(r.n) > r.next:
		return fmt.Errorf("n = %d entries but next = %d: first would underflow", r.n, r.next)
	}
	// Every slot not held must be zero: dropped slots are cleared, and an
	// evicted slot is overwritten by the push that evicts it. A non-zero
	// free slot would keep garbage alive.
	for off := r.n; off < len(r.buf); off++ {
		i := r.index(off)
		if !reflect.ValueOf(&r.buf[i]).Elem().IsZero() {
			return fmt.Errorf("free slot %d (offset %d from head %d, n = %d) is not zero", i, off, r.head, r.n)
		}
	}
	return nil
}

// Allocated returns the length of r's backing array, so that the tests can
// check that it grows only as entries arrive.
func Allocated[T any](r *Ring[T]) int { return len(r.buf) }
