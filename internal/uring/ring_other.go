//go:build !linux

package uring

import (
	"errors"
	"fmt"
	"os"
)

// Ring is not available off Linux: [Open] always fails.
type Ring struct{}

// Open fails with an error wrapping [errors.ErrUnsupported].
func Open() (*Ring, error) {
	return nil, fmt.Errorf("uring: io_uring is Linux only: %w", errors.ErrUnsupported)
}

// WriteAndSync never runs: no Ring exists off Linux.
func (*Ring) WriteAndSync(*os.File, []byte, int64) error { return errors.ErrUnsupported }

// Close does nothing.
func (*Ring) Close() error { return nil }
