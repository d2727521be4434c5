package bosh

// State is where a BOSH session is in its life. The legal transitions are
// written next to each state; StateClosed is terminal.
type State uint8

//go:generate go run golang.org/x/tools/cmd/stringer@v0.51.0 -type=State -trimprefix=State

const (
	// StateOpen: the upstream stream is open and requests are processed.
	// Transitions:
	//   - to StateRestarting: a request with xmpp:restart='true' (process);
	//   - to StatePaused: a pause request (pauseFor, XEP-0124 §10);
	//   - to StateClosed: any end (end, endTerminate, the inactivity timer).
	StateOpen State = iota
	// StateRestarting: the client asked for a stream restart (XEP-0206
	// §5) and the new <stream:features/> has not arrived yet.
	// Transitions:
	//   - to StateOpen: an answer takes the new features from the relay
	//     (answerWithQueue);
	//   - to StatePaused: a pause request before the features came; the
	//     features then reach the client as ordinary data after the pause;
	//   - to StateClosed: any end.
	StateRestarting
	// StatePaused: the client paused the session (XEP-0124 §10); the
	// inactivity limit is the pause. Transitions:
	//   - to StateOpen: the next request processed in rid order (resume);
	//   - to StateClosed: silence past the pause (the inactivity timer),
	//     or any end.
	StatePaused
	// StateClosed: the session is over; its held requests have been
	// answered, it is out of the registry and its upstream stream is being
	// closed. Terminal: no transition leaves it.
	StateClosed
)
