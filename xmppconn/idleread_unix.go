//go:build unix

package xmppconn

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// idleBufs holds the splitter buffers of streams that have nothing
// pending, so that an idle stream (most of them, in a connection manager)
// holds no read buffer while it waits for the server.
var idleBufs = sync.Pool{New: func() any { b := make([]byte, 0, initBufCap); return &b }}

// idleWaitHook, when set (by tests), is called each time fillIdle starts
// waiting for the connection with the splitter's buffer given back.
var idleWaitHook func(*Splitter)

// fillIdle reads once from a plain TCP connection like fill, but when
// nothing is pending in the splitter it waits for the connection to become
// readable without holding a buffer: the buffer is taken from idleBufs
// only when bytes are there to read, and given back if the read finds
// none. With wait false it does not wait at all: a read that finds nothing
// returns errWouldBlock, for a reader that a Poller wakes instead. It
// reports false when it cannot be used (TLS, or not a syscall.Conn, or
// bytes pending), and the caller falls back to fill.
func (s *Splitter) fillIdle(c net.Conn, wait bool) (n int, used bool, err error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false, nil
	}
	s.compact()
	if len(s.buf) > 0 {
		return 0, false, nil // pending bytes: the ordinary read appends to them
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	s.release()
	var rerr error
	wouldBlock := false
	err = rc.Read(func(fd uintptr) bool {
		bp := idleBufs.Get().(*[]byte)
		b := (*bp)[:0]
		for {
			n, rerr = syscall.Read(int(fd), b[:cap(b)])
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			n, rerr = 0, nil
			idleBufs.Put(bp)
			if !wait {
				wouldBlock = true
				return true // the caller's poller waits instead
			}
			if idleWaitHook != nil {
				idleWaitHook(s)
			}
			return false // wait until readable, then call again
		}
		if n < 0 {
			n = 0
		}
		s.buf = b[:n]
		return true
	})
	switch {
	case err != nil:
		return 0, true, err
	case wouldBlock:
		return 0, true, errWouldBlock
	case rerr != nil:
		return 0, true, os.NewSyscallError("read", rerr)
	case n == 0:
		s.release()
		return 0, true, io.EOF
	}
	return n, true, nil
}

// release gives an empty buffer of the initial size back to idleBufs.
func (s *Splitter) release() {
	if len(s.buf) != 0 {
		return
	}
	if cap(s.buf) == initBufCap {
		b := s.buf
		idleBufs.Put(&b)
	}
	s.buf = nil
}
