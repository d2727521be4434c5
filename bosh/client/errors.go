package client

import (
	"errors"
	"fmt"
)

// ErrClosed is the session's final error after a successful Close
// (XEP-0124 §13).
var ErrClosed = errors.New("client: session closed")

// TerminateError reports a terminal binding condition: the connection
// manager answered with type='terminate' (XEP-0124 §17.2) and the session
// is over. Condition is the condition attribute ("" when there was none,
// the normal answer to a client's terminate request); Body is the answer.
// For remote-stream-error the body carries a copy of the server's
// <stream:error/> (XEP-0206 §6).
type TerminateError struct {
	Condition string
	Body      *Body
}

func (e *TerminateError) Error() string {
	if e.Condition == "" {
		return "client: session terminated by the connection manager"
	}
	return fmt.Sprintf("client: session terminated by the connection manager: %s", e.Condition)
}

// SASLError reports a SASL <failure/> (RFC 6120 §6.5): Condition is the
// name of its condition element (e.g. "not-authorized"), Text its <text/>.
type SASLError struct {
	Condition string
	Text      string
}

func (e *SASLError) Error() string {
	if e.Text != "" {
		return fmt.Sprintf("client: authentication failed: %s (%s)", e.Condition, e.Text)
	}
	return "client: authentication failed: " + e.Condition
}

// StanzaError reports an <iq type='error'/> answer during login (RFC 6120
// §8.3): Condition is the defined condition's element name.
type StanzaError struct {
	Step      string // "bind" or "session"
	Condition string
	Raw       []byte
}

func (e *StanzaError) Error() string {
	return fmt.Sprintf("client: %s failed: %s", e.Step, e.Condition)
}

// errResend cancels an HTTP attempt whose request must be sent again:
// after a recoverable binding error on a later rid (XEP-0124 §17.3) or a
// 'report' naming it (§9.2).
var errResend = errors.New("client: resend requested")

// errEnded cancels the attempts still running when the session ends.
var errEnded = errors.New("client: session ended")
