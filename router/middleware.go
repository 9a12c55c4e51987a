package router

// HandlerFunc handles one message. Returning an error answers the message
// with it (ERROR, or RPC_ERROR for a request) unless the handler already
// answered, and reports it to Options.OnError.
type HandlerFunc func(*Ctx) error

// Middleware wraps a handler. It runs before the payload is decoded, so it
// is cheap to refuse a message in one (authorisation, per-type rate
// limits): return an error without calling next and the chain stops there;
// the error is the answer. Middleware registered with [Router.Use] wraps
// every route; middleware given to [Handle] wraps that route only, inside
// the global ones. The first listed is the outermost.
type Middleware func(next HandlerFunc) HandlerFunc

// chain wraps h in mws, the first outermost.
func chain(h HandlerFunc, mws []Middleware) HandlerFunc {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
