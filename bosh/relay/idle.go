package relay

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/sirupsen/logrus"
)

// IdleTimer is a session's inactivity timer (XEP-0124 §10 'inactivity'
// and pause, XEP-0025 §3 session timeout): one time.Timer per session,
// reset at each arming rather than a new timer and closure per request. A
// firing that comes late, because the timer was stopped or re-armed while
// its callback waited for the session's lock, is recognised by the
// deadline it was armed for (Due). Its methods are called with the
// owner's session lock held; the zero value is disarmed.
type IdleTimer struct {
	t  *time.Timer
	at time.Time // the deadline armed for; zero while disarmed
}

// Arm (re)starts the timer for d. fire runs on the timer's goroutine; it
// must take the session's lock, check Due, and be the same at every arming
// (the first one's is kept).
func (d *IdleTimer) Arm(dur time.Duration, fire func()) {
	d.at = time.Now().Add(dur)
	if d.t == nil {
		d.t = time.AfterFunc(dur, fire)
	} else {
		d.t.Reset(dur)
	}
}

// Stop disarms the timer.
func (d *IdleTimer) Stop() {
	d.at = time.Time{}
	if d.t != nil {
		d.t.Stop()
	}
}

// Due reports, in fire with the session's lock held, whether the timer is
// armed and its deadline has passed; false means a late firing to ignore.
func (d *IdleTimer) Due() bool {
	return !d.at.IsZero() && !time.Now().Before(d.at)
}

// Recover, deferred (itself, as recover requires) first thing in a
// callback that runs on a goroutine no HTTP request owns (a relay's wake,
// an IdleTimer's fire), turns a panic into a logged error and a call of
// end(what, v), which ends that session: every other session, and the
// process, go on. A panic in end is logged too. The callback's own
// deferred unlocks have run when end is called.
//
//	defer relay.Recover(log, "wake", s.endAfterPanic)
func Recover(log logrus.FieldLogger, what string, end func(what string, v any)) {
	v := recover()
	if v == nil {
		return
	}
	log.WithField("panic", fmt.Sprint(v)).WithField("stack", string(debug.Stack())).Error(what + " panicked")
	defer func() {
		if v2 := recover(); v2 != nil {
			log.WithField("panic", fmt.Sprint(v2)).Error("ending the session after a panic panicked")
		}
	}()
	end(what, v)
}
