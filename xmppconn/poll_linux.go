//go:build linux

package xmppconn

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// epoll is one running instance of a Poller: an epoll set of its own
// (Go's poller keeps its own registration of the same descriptors), an
// eventfd that stops it, and the goroutine waiting in epoll_wait.
type epoll struct {
	fd   int
	wake int // eventfd: a write stops the goroutine
	done chan struct{}
}

// wakeKey marks the eventfd's events; streams' descriptors are never
// negative.
const wakeKey = -1

func startEpoll(p *Poller) (*epoll, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeKey}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(fd)
		unix.Close(wake)
		return nil, err
	}
	ep := &epoll{fd: fd, wake: wake, done: make(chan struct{})}
	go ep.run(p)
	return ep, nil
}

// add registers c's descriptor, edge-triggered, under gen. The descriptor
// is used inside RawConn.Control, never duplicated (a process may be at
// its open-file limit) and never kept past the connection's life: Unwatch
// removes it before the connection is closed.
func (ep *epoll) add(c net.Conn, gen int32) (fd int32, ok bool) {
	sc, isSock := c.(syscall.Conn)
	if !isSock {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	cerr := rc.Control(func(d uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(d), Pad: gen}
		if unix.EpollCtl(ep.fd, unix.EPOLL_CTL_ADD, int(d), &ev) == nil {
			fd, ok = int32(d), true
		}
	})
	return fd, ok && cerr == nil
}

// del removes c's descriptor. A connection already closed was removed by
// the kernel with its last descriptor.
func (ep *epoll) del(c net.Conn) {
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(d uintptr) { unix.EpollCtl(ep.fd, unix.EPOLL_CTL_DEL, int(d), nil) })
}

// stop asks the goroutine to end; it closes done when it has, after
// releasing the epoll set and the eventfd.
func (ep *epoll) stop() {
	var one = [8]byte{1}
	unix.Write(ep.wake, one[:])
}

func (ep *epoll) run(p *Poller) {
	defer func() {
		unix.Close(ep.fd)
		unix.Close(ep.wake)
		close(ep.done)
	}()
	events := make([]unix.EpollEvent, 128)
	keys := make([]pollKey, 0, len(events))
	var calls []func()
	for {
		n, err := unix.EpollWait(ep.fd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		keys = keys[:0]
		stop := false
		for _, ev := range events[:n] {
			if ev.Fd == wakeKey {
				stop = true
				continue
			}
			keys = append(keys, pollKey{ev.Fd, ev.Pad})
		}
		calls = p.dispatch(ep, keys, calls)
		if stop {
			return
		}
	}
}
