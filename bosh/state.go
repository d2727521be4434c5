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
	// §5) and the new <stream:features/> has not arrived yet; in a
	// session with several streams (XEP-0124 §16), some stream is
	// restarting. Transitions:
	//   - to StateOpen: an answer takes the new features from the relay
	//     of the last stream restarting (answerWithQueue), or that stream
	//     closes (closeStream);
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

// The streams of a session (XEP-0124 §16, streams.go) each have a life of
// their own inside the session's state; a stream is an upstream, its
// state the fields that say so:
//
//   - adding: an add-stream request was accepted (addStream) and its dial
//     runs without the session's lock (request.adding). Transitions: to
//     open when the dial succeeds (installStream: the upstream joins
//     Session.more, the request is answered with its name); to closed
//     (never open) when the dial fails, the session has ended meanwhile,
//     or the limit or allowlist refused it (answered type='terminate'
//     with its name).
//   - open: its relay runs (upstream.relay set). Transitions: to
//     restarting on xmpp:restart naming it (or naming none, for the
//     oldest open stream); to closed on a terminate naming it, on its
//     server's failure (answered type='terminate' with the condition and
//     its name, §16.6), or when the session closes.
//   - restarting: upstream.restarting. Transitions: to open when an
//     answer carries its new features; to closed as from open.
//   - closed: terminal. Its relay is closed in the background
//     (Registry.Background) and its name is remembered among the last
//     few closed, whose payloads are dropped (§16.4). Closing the last
//     open stream ends the session (StateClosed).
//
// The session's first stream is always the inline Session.first; a
// session that never adds one never leaves this picture's open and
// restarting states, exactly as before §16.
