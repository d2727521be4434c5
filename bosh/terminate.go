package bosh

import (
	"errors"
	"net/http"

	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// Condition is a terminal binding condition (XEP-0124 §17.2): the session is
// over, and the answer is <body type='terminate' condition='...'/>.
type Condition string

// The terminal conditions a connection manager sends (XEP-0124 §17.2).
const (
	BadRequest             Condition = "bad-request"
	HostGone               Condition = "host-gone"
	HostUnknown            Condition = "host-unknown"
	ImproperAddressing     Condition = "improper-addressing"
	InternalServerError    Condition = "internal-server-error"
	ItemNotFound           Condition = "item-not-found"
	OtherRequest           Condition = "other-request"
	PolicyViolation        Condition = "policy-violation"
	RemoteConnectionFailed Condition = "remote-connection-failed"
	RemoteStreamError      Condition = "remote-stream-error"
	SeeOtherURI            Condition = "see-other-uri"
	SystemShutdown         Condition = "system-shutdown"
	UndefinedCondition     Condition = "undefined-condition"
)

// Error makes a Condition usable as an error value.
func (c Condition) Error() string { return "bosh: terminal condition " + string(c) }

// legacyStatus is the HTTP status XEP-0124 §17.1 prescribes instead of a
// terminal body for clients that sent no 'ver' (legacy clients), or 0 when
// the condition has no legacy code.
func (c Condition) legacyStatus() int {
	switch c {
	case BadRequest:
		return http.StatusBadRequest
	case PolicyViolation:
		return http.StatusForbidden
	case ItemNotFound:
		return http.StatusNotFound
	}
	return 0
}

// conditionError carries a condition together with its cause, for logs.
type conditionError struct {
	cond  Condition
	cause error
}

func (e *conditionError) Error() string {
	if e.cause == nil {
		return e.cond.Error()
	}
	return e.cond.Error() + ": " + e.cause.Error()
}

func (e *conditionError) Unwrap() []error { return []error{e.cond, e.cause} }

// terminal wraps cause with cond.
func terminal(cond Condition, cause error) error {
	return &conditionError{cond: cond, cause: cause}
}

// ConditionOf maps any error to the condition put on the wire: the
// condition it carries, or the one that fits the upstream failure it
// wraps, or internal-server-error.
func ConditionOf(err error) Condition {
	var ce *conditionError
	if errors.As(err, &ce) {
		return ce.cond
	}
	var c Condition
	if errors.As(err, &c) {
		return c
	}
	var se *xmppconn.StreamError
	switch {
	case errors.As(err, &se):
		return RemoteStreamError
	case errors.Is(err, relay.ErrHostUnknown):
		return HostUnknown
	case errors.Is(err, relay.ErrImproperAddressing):
		return ImproperAddressing
	case errors.Is(err, relay.ErrTooManySessions), errors.Is(err, relay.ErrTooManyForAddress), errors.Is(err, relay.ErrQueueFull):
		return PolicyViolation
	case errors.Is(err, relay.ErrShuttingDown), errors.Is(err, relay.ErrDraining):
		return SystemShutdown
	case errors.Is(err, xmppconn.ErrTooLarge), errors.Is(err, xmppconn.ErrTooDeep), errors.Is(err, xmppconn.ErrNotWellFormed):
		return RemoteConnectionFailed
	case errors.Is(err, ErrBadBody):
		return BadRequest
	}
	return InternalServerError
}
