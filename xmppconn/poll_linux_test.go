package xmppconn

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitReadable waits for the Poller to call back, failing after 5s.
func waitReadable(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("the poller never said readable: %s", what)
	}
}

// signal returns a readable function for Watch and the channel it
// signals (a missed signal while one is pending is no loss: the test
// drains with TryNext).
func signal() (func(), <-chan struct{}) {
	ch := make(chan struct{}, 1)
	return func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}, ch
}

// tryAll reads with TryNext until it reports nothing to read.
func tryAll(t *testing.T, s *Stream) (raw []string, err error) {
	t.Helper()
	for {
		el, ok, err := s.TryNext()
		if err != nil || !ok {
			return raw, err
		}
		raw = append(raw, string(el.Raw))
	}
}

// TestPollerRelaysAnIdleStream: a stream read with TryNext and woken by
// the Poller holds no buffer while idle, gets every element byte-exact and
// in order (an element split across two writes included), and sees the
// server hanging up as Next would.
func TestPollerRelaysAnIdleStream(t *testing.T) {
	split := "<message id='s'><body>" + strings.Repeat("z", 3000) + "</body></message>"
	srv := newServer(t, func(p *peer) {
		if !p.open("id", featuresBind) || !p.expect("<presence/>") {
			return
		}
		p.send("<message id='1'/><message id='2'>héllo</message>")
		if !p.expect("<presence/>") {
			return
		}
		p.send(split[:100])
		time.Sleep(20 * time.Millisecond) // two segments, the second later
		p.send(split[100:])
		if !p.expect("<presence/>") {
			return
		}
		p.conn.Close() // no </stream:stream>
	})
	s := openStream(t, srv.dialer())
	var p Poller
	readable, ch := signal()
	if !p.Watch(s, readable) {
		t.Fatal("Watch refused a plain TCP stream")
	}
	defer p.Unwatch(s)
	if got, err := tryAll(t, s); err != nil || len(got) != 0 {
		t.Fatalf("idle stream: TryNext gave %q, %v; want nothing", got, err)
	}
	if s.sp.buf != nil {
		t.Error("an idle stream read with TryNext holds a read buffer")
	}
	steps := []struct {
		want []string
		err  error
	}{
		{want: []string{"<message id='1'/>", "<message id='2'>héllo</message>"}},
		{want: []string{split}},
		{err: io.ErrUnexpectedEOF},
	}
	for i, step := range steps {
		must(t, s.Send([]byte("<presence/>")))
		var got []string
		var err error
		for err == nil && len(got) < len(step.want) || step.err != nil && err == nil {
			waitReadable(t, ch, fmt.Sprintf("step %d", i))
			var more []string
			more, err = tryAll(t, s)
			got = append(got, more...)
		}
		if step.err != nil {
			if !errors.Is(err, step.err) {
				t.Fatalf("step %d: error %v, want %v", i, err, step.err)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != strings.Join(step.want, "|") {
			t.Fatalf("step %d: got %q, %v\nwant %q", i, got, err, step.want)
		}
	}
}

// epollTargets lists the descriptors registered in the epoll set epfd
// (the kernel shows them in /proc/self/fdinfo).
func epollTargets(t *testing.T, epfd int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", epfd))
	if err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "tfd:" {
			fds = append(fds, f[1])
		}
	}
	return fds
}

// TestPollerUnwatch: Unwatch takes the descriptor out of the epoll set
// before the connection is closed (its number is soon another
// connection's), and the last Unwatch stops the poller's goroutine (the
// package's goleak check would see it otherwise).
func TestPollerUnwatch(t *testing.T) {
	srv := newServer(t, func(p *peer) { p.open("id", featuresBind); p.drain() })
	a, b := openStream(t, srv.dialer()), openStream(t, srv.dialer())
	var p Poller
	readable, _ := signal()
	if !p.Watch(a, readable) || !p.Watch(b, readable) {
		t.Fatal("Watch refused a plain TCP stream")
	}
	ep := p.ep
	fdA := fmt.Sprint(a.poll.fd)
	if got := epollTargets(t, ep.fd); len(got) != 2 || !strings.Contains(strings.Join(got, " "), fdA) {
		t.Fatalf("epoll set holds %v, want both streams (a is %s)", got, fdA)
	}
	p.Unwatch(a)
	if got := epollTargets(t, ep.fd); strings.Contains(" "+strings.Join(got, " ")+" ", " "+fdA+" ") {
		t.Fatalf("after Unwatch the epoll set still holds a's descriptor %s: %v", fdA, got)
	}
	a.Close()
	p.Unwatch(b)
	select {
	case <-ep.done:
	default:
		t.Fatal("the poller's goroutine runs on with nothing watched")
	}
	if p.ep != nil {
		t.Fatal("the poller keeps its instance with nothing watched")
	}
}

// TestPollerRefusesTLS: a TLS stream is not watched (a readable socket
// may hold only part of a record); its reader waits in Next.
func TestPollerRefusesTLS(t *testing.T) {
	srv := newServer(t, func(p *peer) {
		if p.open("id1", featuresStartTLS) && p.startTLS("example.net") && p.expect(clientOpen) {
			p.send(serverHeader("id2") + featuresSASL)
			p.drain()
		}
	})
	d := srv.dialer()
	d.TLS = TLSRequired
	s := openStream(t, d)
	var p Poller
	if p.Watch(s, func() {}) {
		p.Unwatch(s)
		t.Fatal("Watch took a TLS stream")
	}
}

// TestPollerWatchReadyStream: bytes already waiting when a stream is
// watched are announced at once (a reader that found nothing may park
// just before they came, and no later edge may follow).
func TestPollerWatchReadyStream(t *testing.T) {
	srv := newServer(t, func(p *peer) {
		if p.open("id", featuresBind) && p.expect("<presence/>") {
			p.send("<message/>")
		}
		p.drain()
	})
	s := openStream(t, srv.dialer())
	must(t, s.Send([]byte("<presence/>")))
	rc, err := s.raw.(syscall.Conn).SyscallConn()
	must(t, err)
	var ready bool
	rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(fds, 5000)
		ready = n == 1
	})
	if !ready {
		t.Fatal("the server's message never arrived")
	}
	var p Poller
	readable, ch := signal()
	if !p.Watch(s, readable) {
		t.Fatal("Watch refused a plain TCP stream")
	}
	defer p.Unwatch(s)
	waitReadable(t, ch, "bytes waiting before Watch")
	if got, err := tryAll(t, s); err != nil || len(got) != 1 || got[0] != "<message/>" {
		t.Fatalf("TryNext gave %q, %v; want the message", got, err)
	}
}
