//go:build linux

package held

import (
	"net"
	"sync"
	"syscall"
	"weak"

	"golang.org/x/sys/unix"
)

// watcher notices clients hanging up on parked connections with one
// goroutine for all of them: each connection is registered, once for its
// whole life, edge-triggered for EPOLLRDHUP, in an epoll set of the
// watcher's own (a descriptor may sit in several epoll sets; Go's poller
// keeps its own registration), and the goroutine waits in epoll_wait for
// the hang-up. The runtime cannot wait for readability without a
// goroutine per connection (golang/go#15735), hence this.
//
// The registration outlives the park: a keep-alive connection parks a
// request, is answered, serves its next request through net/http and
// parks again, and only the first park costs a system call (epoll_ctl);
// answering costs none. Bytes arriving make no event (EPOLLIN is not
// asked for), so a pipelined request stays in the socket for net/http.
// The kernel drops the registration when the connection is closed; an
// entry left behind for a closed descriptor is told apart from a later
// connection on the same number by a weak pointer to the connection (and
// the registration's number in each event), and is overwritten when the
// number is reused.
//
// States of one connection's entry, guarded by mu:
//
//	registered, not parked  --add-->      parked (parked = c)
//	parked                  --remove-->   registered, not parked
//	parked                  --hang-up-->  registered, not parked; gone called
//	not parked              --hang-up-->  hungUp: the next add calls gone
//
// The watcher is started by the first Take with a gone function and
// stopped by Front.Shutdown, which waits for its goroutine.
type watcher struct {
	epfd int
	wake [2]int // a pipe: a byte on wake[1] stops the goroutine

	mu      sync.Mutex
	socks   map[int32]*watched // by descriptor number
	gen     int32
	stopped bool
	done    chan struct{}
	adds    int // registrations made (epoll_ctl calls), for tests
}

// watched is one connection registered with the watcher.
type watched struct {
	id     any   // weak.Pointer to the connection (sockID)
	gen    int32 // the registration's number, carried in its events
	parked *Conn // the request parked on it now, if any
	hungUp bool  // the peer hung up while nothing was parked
}

func startWatcher() *watcher {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	w := &watcher{epfd: epfd, socks: make(map[int32]*watched), done: make(chan struct{})}
	if err := syscall.Pipe2(w.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(w.wake[0]), Pad: -1}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, w.wake[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(w.wake[0])
		syscall.Close(w.wake[1])
		return nil
	}
	go w.run()
	return w
}

// sockID identifies a connection without keeping it alive: two weak
// pointers are equal only when made from the same live connection.
func sockID(sc syscall.Conn) any {
	switch t := sc.(type) {
	case *net.TCPConn:
		return weak.Make(t)
	case *net.UnixConn:
		return weak.Make(t)
	}
	return nil
}

// add marks c parked, registering its connection first if this is the
// connection's first park. A connection that is not a socket is not
// watched. If the peer already hung up, gone is called before add
// returns.
func (w *watcher) add(c *Conn) {
	sc, ok := rawConn(c.nc)
	if !ok {
		return
	}
	id := sockID(sc)
	if id == nil {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	var hungUp bool
	rc.Control(func(fd uintptr) {
		s := w.socks[int32(fd)]
		if s == nil || s.id != id {
			// First park on this connection (an entry under the same
			// number is a closed connection's): register it. The kernel
			// reports a hang-up that came before at once.
			w.gen++
			if w.gen <= 0 {
				w.gen = 1
			}
			ev := syscall.EpollEvent{Events: unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd), Pad: w.gen}
			err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
			if err == syscall.EEXIST {
				err = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
			}
			w.adds++
			if err != nil {
				delete(w.socks, int32(fd))
				return
			}
			s = &watched{id: id, gen: w.gen}
			w.socks[int32(fd)] = s
		}
		if s.hungUp {
			hungUp = true
			return
		}
		s.parked = c
		c.watchFD = int32(fd)
	})
	w.mu.Unlock()
	if hungUp && c.gone != nil {
		c.gone()
	}
}

// remove marks c no longer parked (answered); its connection stays
// registered for its next park.
func (w *watcher) remove(c *Conn) {
	w.mu.Lock()
	if s := w.socks[c.watchFD]; s != nil && s.parked == c {
		s.parked = nil
	}
	c.watchFD = -1
	w.mu.Unlock()
}

func (w *watcher) run() {
	defer close(w.done)
	events := make([]syscall.EpollEvent, 64)
	var gone []*Conn
	for {
		n, err := syscall.EpollWait(w.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		gone = gone[:0]
		w.mu.Lock()
		for _, ev := range events[:n] {
			if ev.Pad == -1 {
				w.mu.Unlock()
				return // woken to stop
			}
			s := w.socks[ev.Fd]
			switch {
			case s == nil || s.gen != ev.Pad:
				// An earlier connection's, already replaced.
			case s.parked != nil:
				gone = append(gone, s.parked)
				s.parked.watchFD = -1
				s.parked = nil
			default:
				s.hungUp = true
			}
		}
		w.mu.Unlock()
		for i, c := range gone {
			if c.gone != nil {
				c.gone() // answers c, on the caller's side
			}
			gone[i] = nil
		}
	}
}

// stop ends the goroutine and waits for it, then releases the epoll set.
func (w *watcher) stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.mu.Unlock()
	syscall.Write(w.wake[1], []byte{0})
	<-w.done
	w.mu.Lock()
	syscall.Close(w.epfd)
	syscall.Close(w.wake[0])
	syscall.Close(w.wake[1])
	w.socks = nil
	w.mu.Unlock()
}
