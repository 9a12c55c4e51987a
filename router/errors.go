package router

import (
	"errors"
	"fmt"
)

// Errors returned by the router's methods.
var (
	// ErrClosed: the connection is closing or closed; nothing more can be
	// sent on it.
	ErrClosed = errors.New("router: connection closed")
	// ErrQueueFull: the send would have overflowed the connection's
	// outbound queue; the message was not queued (see Options.OnQueueFull).
	ErrQueueFull = errors.New("router: outbound queue full")
	// ErrDropped: a droppable frame was not queued because the connection's
	// queue is past Options.DroppableQueueBytes; the connection stays open.
	ErrDropped = errors.New("router: droppable frame dropped: outbound queue busy")
	// ErrAlreadyReplied: the request already had its terminal reply.
	ErrAlreadyReplied = errors.New("router: request already replied")
	// ErrNotRPC: Progress on a request without a correlationId.
	ErrNotRPC = errors.New("router: request has no correlationId")
	// ErrShutdown: the router is shutting down.
	ErrShutdown = errors.New("router: shut down")
	// ErrBrokerClosed: the broker was closed.
	ErrBrokerClosed = errors.New("router: broker closed")
)

// PanicError is a panic recovered from a handler, middleware or hook.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("router: panic: %v", e.Value) }
