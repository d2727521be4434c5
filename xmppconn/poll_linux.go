//go:build linux

package xmppconn

import (
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// epoll is one running instance of a Poller: an epoll set of its own
// (Go's poller keeps its own registration of the same descriptors) and
// the goroutine that waits for it. That goroutine waits in the runtime's
// poller, not in epoll_wait: an epoll set is itself a pollable
// descriptor, readable while it has events to report, so the wait costs
// no thread blocked in a system call and a wake-up is the runtime's
// ordinary one. Closing the set's os.File stops the goroutine.
type epoll struct {
	fd   int      // the epoll set, owned by file
	file *os.File // closed by stop
	done chan struct{}
}

func startEpoll(p *Poller) (*epoll, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("xmppconn: poller: %w", err)
	}
	// Non-blocking, so that os.NewFile hands it to the runtime's poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("xmppconn: poller: %w", err)
	}
	file := os.NewFile(uintptr(fd), "xmppconn-poller")
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("xmppconn: poller: %w", err)
	}
	ep := &epoll{fd: fd, file: file, done: make(chan struct{})}
	go ep.run(p, rc)
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

// stop makes the goroutine end; it closes done when it has. The epoll set
// is closed once the goroutine no longer uses it (os.File counts its
// users).
func (ep *epoll) stop() { ep.file.Close() }

func (ep *epoll) run(p *Poller, rc syscall.RawConn) {
	defer close(ep.done)
	events := make([]unix.EpollEvent, 128)
	keys := make([]pollKey, 0, len(events))
	var calls []func()
	// One RawConn.Read for the goroutine's whole life: it clears the
	// runtime's readiness flag when it begins, so a new call could miss an
	// edge that came since the last epoll_wait. Inside it, an edge that
	// comes while events are being handled makes the next wait return at
	// once. A batch smaller than events emptied the set, so the callback
	// waits for the next edge instead of asking again: one epoll_wait per
	// wake-up. It returns only when stop closes the set.
	rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.EpollWait(int(fd), events, 0)
			if err == unix.EINTR {
				continue
			}
			if n <= 0 {
				return false // wait until the set is readable again
			}
			keys = keys[:0]
			for _, ev := range events[:n] {
				keys = append(keys, pollKey{ev.Fd, ev.Pad})
			}
			calls = p.dispatch(ep, keys, calls)
			if n < len(events) {
				return false
			}
		}
	})
}
