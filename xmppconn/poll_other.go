//go:build !linux

package xmppconn

import (
	"errors"
	"net"
)

// epoll is not available here: Watch reports false and readers wait in
// Next, with a goroutine each.
type epoll struct{ done chan struct{} }

func startEpoll(*Poller) (*epoll, error)         { return nil, errors.New("xmppconn: no epoll") }
func (*epoll) add(net.Conn, int32) (int32, bool) { return 0, false }
func (*epoll) del(net.Conn)                      {}
func (*epoll) stop()                             {}
