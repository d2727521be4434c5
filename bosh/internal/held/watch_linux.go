//go:build linux

package held

import (
	"sync"
	"syscall"
)

// watcher notices clients hanging up on parked connections with one
// goroutine for all of them: each parked descriptor is also registered,
// one-shot, in an epoll set of the watcher's own (a descriptor may sit in
// several epoll sets; Go's poller keeps its own registration), and the
// goroutine waits in epoll_wait for EPOLLRDHUP/EPOLLHUP. Bytes arriving
// (a pipelined request) are left in the socket for net/http to read after
// the answer. The runtime cannot wait for readability without a goroutine
// per connection (golang/go#15735), hence this.
//
// The watcher is started by the first Take with a gone function and
// stopped by Front.Shutdown, which waits for its goroutine.
type watcher struct {
	epfd int
	wake [2]int // a pipe: a byte on wake[1] stops the goroutine

	mu      sync.Mutex
	conns   map[int32]*Conn // by descriptor, while registered
	gen     int32
	stopped bool
	done    chan struct{}
}

func startWatcher() *watcher {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	w := &watcher{epfd: epfd, conns: make(map[int32]*Conn), done: make(chan struct{})}
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

// add registers c; a connection that is not a socket is not watched.
func (w *watcher) add(c *Conn) {
	sc, ok := rawConn(c.nc)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.gen++
	gen := w.gen
	rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd), Pad: gen}
		if syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev) == nil {
			c.watchFD, c.watchGen = int32(fd), gen
			w.conns[int32(fd)] = c
		}
	})
}

// remove unregisters c; it must be called before c's descriptor is closed
// or handed back.
func (w *watcher) remove(c *Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conns[c.watchFD] == c {
		delete(w.conns, c.watchFD)
		if !w.stopped {
			syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, int(c.watchFD), nil)
		}
	}
	c.watchFD = -1
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
			if c := w.conns[ev.Fd]; c != nil && c.watchGen == ev.Pad {
				gone = append(gone, c)
			}
		}
		w.mu.Unlock()
		for _, c := range gone {
			if c.gone != nil {
				c.gone() // answers (and so unwatches) c, on the caller's side
			}
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
	w.mu.Unlock()
}
