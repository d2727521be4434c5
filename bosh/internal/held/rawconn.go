package held

import (
	"crypto/tls"
	"net"
	"syscall"
)

// rawConn finds the socket under c (through TLS and a carried-along
// pipelined prefix), for the watcher.
func rawConn(c net.Conn) (syscall.Conn, bool) {
	for {
		switch t := c.(type) {
		case *prefixConn:
			c = t.Conn
		case *tls.Conn:
			c = t.NetConn()
		case syscall.Conn:
			return t, true
		default:
			return nil, false
		}
	}
}
