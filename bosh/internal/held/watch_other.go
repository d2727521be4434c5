//go:build !linux

package held

// watcher is Linux-only (watch_linux.go); elsewhere a client leaving a
// parked request is noticed when its answer is written.
type watcher struct{}

func startWatcher() *watcher    { return nil }
func (w *watcher) add(*Conn)    {}
func (w *watcher) remove(*Conn) {}
func (w *watcher) stop()        {}
