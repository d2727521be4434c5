package httppoll

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"boshd/bosh/relay"
)

// These tests run on synctest's fake clock: time.Sleep and the hold timers
// advance it instantly once every goroutine is waiting, so durations are
// exact and the tests never flake.

// TestHoldSchedule: a client that polls again right after each answer is
// held until the session's current interval has passed since the previous
// answer, the interval growing with the time since the last stanza and
// capped by HoldCap.
func TestHoldSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) {
			c.PollInterval = func(idle time.Duration) time.Duration {
				return relay.PollInterval(idle, 2*time.Second, 30*time.Second)
			}
			c.HoldCap = 20 * time.Second
		})
		id, _ := p.open()
		start := time.Now()
		var gaps []time.Duration
		prev := start
		for time.Since(start) < 3*time.Minute {
			r := p.post(id + ",")
			if r.id != id || r.body != "" {
				t.Fatalf("poll answered %s %q", r.id, r.body)
			}
			now := time.Now()
			gaps = append(gaps, now.Sub(prev))
			prev = now
		}
		// Idle time at each request = time since the stream opened.
		idle := time.Duration(0)
		for i, g := range gaps {
			want := min(relay.PollInterval(idle, 2*time.Second, 30*time.Second), 20*time.Second)
			if g != want {
				t.Fatalf("poll %d (idle %v): held %v, want %v (all: %v)", i, idle, g, want, gaps)
			}
			idle += g
		}
		if gaps[0] != 2*time.Second || gaps[len(gaps)-1] != 20*time.Second {
			t.Fatalf("holds went %v", gaps)
		}
	})
}

// TestHeldPollAnsweredOnData: a held poll is answered the moment the
// server sends something, not when its hold ends.
func TestHeldPollAnsweredOnData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, f := p.open()
		time.Sleep(10 * time.Minute)
		p.post(id + ",") // the interval since the last answer has passed
		got := make(chan reply, 1)
		asked := time.Now()
		go func() { got <- p.post(id + ",") }()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if len(got) != 0 {
			t.Fatal("idle poll answered before data or the hold's end")
		}
		msg := "<message><body>now</body></message>"
		f.stanza(msg)
		r := <-got
		if r.body != msg {
			t.Fatalf("held poll answered %q", r.body)
		}
		if d := time.Since(asked); d != 3*time.Second {
			t.Fatalf("answered %v after the poll, want 3s: at the data's arrival", d)
		}
		if r.interval != 1 {
			t.Fatalf("X-Poll-Interval %d after a held answer, want HeldPollGap 1", r.interval)
		}
	})
}

// TestPollWithDataNotHeld: a request that carries stream bytes is always
// answered at once, however idle the session was.
func TestPollWithDataNotHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, _ := p.open()
		time.Sleep(10 * time.Minute)
		p.post(id + ",")
		start := time.Now()
		for _, body := range []string{"<presence/>", "<message><bo", "dy/></message>"} {
			p.post(id + "," + body)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("requests with data took %v", d)
		}
		// A whitespace keep-alive is an empty poll (RFC 6120 §4.6.1).
		time.Sleep(time.Minute)
		p.post(id + ",")
		start = time.Now()
		p.post(id + ", ")
		if d := time.Since(start); d != 15*time.Second {
			t.Fatalf("whitespace poll held %v, want the interval 15s", d)
		}
	})
}

// TestHoldCapAndOff: no hold exceeds HoldCap; a negative HoldCap turns
// holding off.
func TestHoldCapAndOff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cap    time.Duration
		want   time.Duration
		advice int
	}{
		{"capped", 7 * time.Second, 7 * time.Second, 1},
		{"uncapped", 50 * time.Second, 30 * time.Second, 1},
		{"off", -1, 0, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newHarness(t, func(c *Config) { c.HoldCap = tc.cap })
				id, _ := p.open()
				time.Sleep(time.Hour)
				p.post(id + ",")
				start := time.Now()
				r := p.post(id + ",")
				if d := time.Since(start); d != tc.want {
					t.Fatalf("held %v, want %v", d, tc.want)
				}
				if r.interval != tc.advice {
					t.Fatalf("X-Poll-Interval %d, want %d", r.interval, tc.advice)
				}
			})
		})
	}
}

// TestNewerRequestReleasesHeld: a client that gives up on a held poll and
// sends another gets the first answered at once (empty) and the second
// served; data is never lost between them.
func TestNewerRequestReleasesHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, f := p.open()
		time.Sleep(time.Hour)
		p.post(id + ",")
		first := make(chan reply, 1)
		go func() { first <- p.post(id + ",") }()
		time.Sleep(time.Second)
		synctest.Wait()
		second := make(chan reply, 1)
		go func() { second <- p.post(id + ",<presence/>") }()
		synctest.Wait()
		r1 := <-first
		if r1.id != id || r1.body != "" {
			t.Fatalf("released poll answered %s %q", r1.id, r1.body)
		}
		r2 := <-second
		if r2.id != id {
			t.Fatalf("newer request answered %s", r2.id)
		}
		if got := f.sentText(); got != "<presence/>" {
			t.Fatalf("forwarded %q", got)
		}
	})
}

// TestClientGoneWhileHeld: when the client drops a held poll, what arrives
// afterwards waits for its next poll.
func TestClientGoneWhileHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, f := p.open()
		time.Sleep(time.Hour)
		p.post(id + ",")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { p.postCtx(ctx, id+","); close(done) }()
		time.Sleep(time.Second)
		cancel()
		cancelled := time.Now()
		<-done
		// The hold ends when the client leaves, not when its timer fires
		// (under synctest the clock would jump to the timer otherwise).
		if waited := time.Since(cancelled); waited != 0 {
			t.Fatalf("held poll returned %v after the client left", waited)
		}
		f.stanza("<message/>")
		if r := p.post(id + ","); r.body != "<message/>" {
			t.Fatalf("next poll got %q", r.body)
		}
	})
}

// TestIntervalAdvertised: every answer tells the current interval; it
// grows while the session is idle and drops to poll_min on the first
// stanza in either direction.
func TestIntervalAdvertised(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) { c.HoldCap = -1 })
		id, f := p.open()
		for _, tc := range []struct {
			sleep time.Duration
			body  string
			push  string
			want  int
		}{
			{0, "", "", 2},
			{20 * time.Second, "", "", 5},
			{40 * time.Second, "", "", 15},
			{10 * time.Minute, "", "", 30},
			{0, "<presence/>", "", 2}, // the client's stanza
			{5 * time.Minute, "", "", 30},
			{0, "", "<message/>", 2}, // the server's stanza
		} {
			time.Sleep(tc.sleep)
			if tc.push != "" {
				f.stanza(tc.push)
			}
			r := p.post(id + "," + tc.body)
			if r.interval != tc.want {
				t.Fatalf("after %v: X-Poll-Interval %d, want %d", tc.sleep, r.interval, tc.want)
			}
		}
	})
}

// TestIdleRequestCount is the idle-period figure of docs/polling.md on a
// fake clock, for both kinds of client: one that polls right after each
// answer (back to back) and one that sleeps the advised X-Poll-Interval
// between polls (follower). Over 10 idle minutes each makes at least 5
// times fewer requests with adaptation on than with a fixed 2 s interval,
// with or without a message in the middle of the period; the message
// reaches the back-to-back client with no delay at all and the follower
// within HeldPollGap (on a real network add one round trip).
func TestIdleRequestCount(t *testing.T) {
	fixed := func(time.Duration) time.Duration { return 2 * time.Second }
	adaptive := func(idle time.Duration) time.Duration {
		return relay.PollInterval(idle, 2*time.Second, 30*time.Second)
	}
	for _, follow := range []bool{false, true} {
		for _, message := range []bool{false, true} {
			on, onDelay := idlePeriod(t, adaptive, follow, message, 7*time.Minute+13*time.Second)
			off, offDelay := idlePeriod(t, fixed, follow, message, 7*time.Minute+13*time.Second)
			t.Logf("follower %v, message at 7m13s %v: %d requests adaptive, %d fixed at 2s (%.1fx); message delay %v and %v",
				follow, message, on, off, float64(off)/float64(on), onDelay, offDelay)
			if on*5 > off {
				t.Fatalf("adaptive %d requests vs fixed %d: less than 5 times fewer", on, off)
			}
			limit := time.Duration(0)
			if follow {
				limit = HeldPollGap
			}
			if message && (onDelay < 0 || onDelay > limit || offDelay < 0 || offDelay > limit) {
				t.Fatalf("message delayed %v (adaptive) / %v (fixed), want at most %v", onDelay, offDelay, limit)
			}
		}
	}
}

// TestFollowerLatencyAtEveryIdleLevel: a client that sleeps the advised
// interval between polls gets a message within HeldPollGap whenever it
// arrives, after 5 s or 30 min of idle time, at any phase of the poll
// cycle (the case: 90 s of idle time).
func TestFollowerLatencyAtEveryIdleLevel(t *testing.T) {
	adaptive := func(idle time.Duration) time.Duration {
		return relay.PollInterval(idle, 2*time.Second, 30*time.Second)
	}
	for _, at := range []time.Duration{5 * time.Second, 21 * time.Second, 90 * time.Second,
		90*time.Second + 500*time.Millisecond, 3*time.Minute + 700*time.Millisecond, 30*time.Minute + 300*time.Millisecond} {
		_, delay := idlePeriod(t, adaptive, true, true, at)
		if delay < 0 || delay > HeldPollGap {
			t.Errorf("message after %v idle: delay %v, want at most %v", at, delay, HeldPollGap)
		}
	}
}

// idlePeriod runs one client over an idle period (10 minutes, or until a
// minute after the message) and returns its request count and the delay of
// a message sent at msgAt (-1 if it never arrived). follow: the client
// sleeps X-Poll-Interval between polls; otherwise it polls back to back.
func idlePeriod(t *testing.T, policy func(time.Duration) time.Duration, follow, message bool, msgAt time.Duration) (requests int, delay time.Duration) {
	t.Helper()
	period := max(10*time.Minute, msgAt+time.Minute)
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) { c.PollInterval = policy; c.HoldCap = 20 * time.Second })
		id, f := p.open()
		start := time.Now()
		msg := "<message><body>during the idle period</body></message>"
		sent := make(chan time.Time, 1)
		if message {
			go func() {
				time.Sleep(msgAt)
				sent <- time.Now()
				f.stanza(msg)
			}()
		}
		delay = -1
		for time.Since(start) < period {
			r := p.post(id + ",")
			requests++
			if r.id != id {
				t.Fatalf("poll %d answered %s", requests, r.id)
			}
			if r.body == msg {
				delay = time.Since(<-sent)
			}
			if follow && r.interval > 0 {
				time.Sleep(time.Duration(r.interval) * time.Second)
			}
		}
	})
	return
}
