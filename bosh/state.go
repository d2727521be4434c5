package bosh

// State is where a BOSH session is in its life. The legal transitions are
// written next to each state; StateClosed is terminal.
type State uint8

//go:generate go run golang.org/x/tools/cmd/stringer@v0.51.0 -type=State -trimprefix=State

const (
	// StateOpen: the upstream stream is open and requests are processed.
	// Goes to StateRestarting (xmpp:restart), StatePaused (pause) or
	// StateClosed.
	StateOpen State = iota
	// StateRestarting: the client asked for a stream restart (XEP-0206
	// §5) and the new <stream:features/> has not arrived yet. Goes to
	// StateOpen when it arrives, or StateClosed.
	StateRestarting
	// StatePaused: the client paused the session (XEP-0124 §10); the
	// inactivity limit is the pause. The next request goes back to
	// StateOpen; silence past the pause goes to StateClosed.
	StatePaused
	// StateClosed: the session is over; its held requests have been
	// answered and its upstream stream is being closed. Terminal.
	StateClosed
)
