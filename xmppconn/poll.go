package xmppconn

import (
	"sync"
	"syscall"
)

// Poller tells, with one goroutine for many streams, when an idle plain
// TCP stream has something to read, so that a stream needs no goroutine
// of its own while it waits for the server. A connection manager's
// upstream streams are idle almost all the time, and a goroutine parked
// in Read costs its stack (the runtime cannot wait for readability
// without a goroutine per connection, golang/go#15735). The intended use:
// a reader calls [Stream.TryNext] until it reports nothing to read, then
// exits; the function given to [Poller.Watch] starts a reader again.
//
// It uses epoll on Linux; elsewhere, and for TLS streams (a TLS record may
// arrive in parts, so readability does not mean an element), Watch
// reports false and the caller keeps a reader waiting in [Stream.Next].
//
// The zero value is ready to use. Its goroutine runs only while at least
// one stream is watched: the first Watch starts it, and the Unwatch of the
// last stream watched stops it and waits for it, so a process whose
// streams are all closed (shutdown, the end of a test) has none left. One
// Poller serves a whole process.
type Poller struct {
	mu      sync.Mutex
	ep      *epoll // the running instance; nil while nothing is watched
	watched map[int32]*Stream
	gen     int32 // the last registration's number, told apart in events
}

// pollReg is a stream's registration with a Poller, guarded by that
// Poller's mu.
type pollReg struct {
	on       bool
	fd       int32
	gen      int32
	readable func()
}

// Watch registers s with p: from now on readable is called, on the
// poller's goroutine, whenever bytes may have arrived on s's connection
// or the server hung up (at once if bytes already wait). The calls are
// edge-triggered, one per arrival, and may come while a reader of s is
// still running: a reader must read until TryNext reports nothing before
// it stops, and must not count on a call for bytes that were there
// before it last found nothing. readable must not block. Watching a
// stream already watched changes nothing and reports true.
//
// Watch reports false when s cannot be watched (TLS, not a socket, not
// Linux, no epoll): the caller then reads with Next. Failing with nothing
// else watched, it stops the poller's goroutine and waits for it, as the
// last Unwatch does: a readable function of another stream still being
// called must not wait for anything the caller of Watch holds. Unwatch must be
// called before s is closed: a closed descriptor's number is soon another
// connection's.
func (p *Poller) Watch(s *Stream, readable func()) bool {
	if _, sock := s.raw.(syscall.Conn); !sock || s.conn != s.raw {
		return false
	}
	p.mu.Lock()
	if s.poll.on {
		p.mu.Unlock()
		return true
	}
	if p.ep == nil {
		ep, err := startEpoll(p)
		if err != nil {
			p.mu.Unlock()
			return false
		}
		p.ep = ep
		p.watched = make(map[int32]*Stream)
	}
	p.gen++
	if p.gen <= 0 {
		p.gen = 1
	}
	fd, ok := p.ep.add(s.raw, p.gen)
	if ok {
		s.poll = pollReg{on: true, fd: fd, gen: p.gen, readable: readable}
		p.watched[fd] = s
	}
	var done chan struct{}
	if !ok && len(p.watched) == 0 {
		done = p.stopLocked()
	}
	p.mu.Unlock()
	if done != nil {
		<-done
	}
	return ok
}

// Unwatch removes s from p, so that s may be closed; it does nothing if s
// is not watched. A call of readable already under way may still happen
// after it returns. The last Unwatch stops the poller's goroutine and
// waits for it; the caller must not hold anything readable waits for.
func (p *Poller) Unwatch(s *Stream) {
	p.mu.Lock()
	if !s.poll.on {
		p.mu.Unlock()
		return
	}
	p.ep.del(s.raw)
	if p.watched[s.poll.fd] == s {
		// Only s's own entry: were its descriptor ever closed and its
		// number reused by a stream watched since, the entry is that one's.
		delete(p.watched, s.poll.fd)
	}
	s.poll = pollReg{}
	var done chan struct{}
	if len(p.watched) == 0 {
		done = p.stopLocked()
	}
	p.mu.Unlock()
	if done != nil {
		<-done
	}
}

// stopLocked tells the running instance to stop and forgets it; the
// caller waits on the returned channel after unlocking mu (the goroutine
// takes mu to dispatch).
func (p *Poller) stopLocked() chan struct{} {
	ep := p.ep
	p.ep, p.watched = nil, nil
	ep.stop()
	return ep.done
}

// dispatch calls readable for each stream named by events that is still
// watched under the registration the event was made for; ep is the
// instance that reported them.
func (p *Poller) dispatch(ep *epoll, keys []pollKey, calls []func()) []func() {
	calls = calls[:0]
	p.mu.Lock()
	if p.ep == ep {
		for _, k := range keys {
			if s := p.watched[k.fd]; s != nil && s.poll.gen == k.gen {
				calls = append(calls, s.poll.readable)
			}
		}
	}
	p.mu.Unlock()
	for i, f := range calls {
		f()
		calls[i] = nil
	}
	return calls
}

// pollKey names a registration in an event: the descriptor and the
// registration's number.
type pollKey struct{ fd, gen int32 }
