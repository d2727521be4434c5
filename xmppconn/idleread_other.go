//go:build !unix

package xmppconn

import "net"

// fillIdle is not available here: the caller falls back to fill.
func (s *Splitter) fillIdle(net.Conn, bool) (int, bool, error) { return 0, false, nil }
