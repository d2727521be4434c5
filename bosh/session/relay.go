package session

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"boshd/bosh/metrics"
	"boshd/xmppconn"
)

// ErrQueueFull is the reason a relay ends when its client leaves more bytes
// waiting than the queue allows.
var ErrQueueFull = errors.New("session: too many bytes waiting for the client")

// ErrClosed is the reason a relay ends when its owner closed it.
var ErrClosed = errors.New("session: closed")

// Relay is one client session's upstream half: the XML stream to the
// server, the elements the server sent that the client has not fetched
// yet, and the goroutine that reads them. Its methods may be called from
// any goroutine.
type Relay struct {
	stream   *xmppconn.Stream
	maxQueue int
	wake     func()
	metrics  *metrics.Metrics

	mu         sync.Mutex
	queue      []xmppconn.Element
	queueBytes int
	err        error // why the relay ended; nil while it runs
	lastStanza time.Time

	readerDone chan struct{}
	closeOnce  sync.Once
}

// NewRelay starts relaying stream. maxQueue bounds the bytes waiting for the
// client (0 means 1 MiB). wake is called, from the reader goroutine and
// without locks held, whenever an element was queued or the relay ended; it
// must not block. The relay owns the reader goroutine; Close stops it and
// waits for it. m counts the stanzas the server sends (nil: not counted).
func NewRelay(stream *xmppconn.Stream, maxQueue int, wake func(), m *metrics.Metrics) *Relay {
	if maxQueue <= 0 {
		maxQueue = 1 << 20
	}
	r := &Relay{
		stream:     stream,
		maxQueue:   maxQueue,
		wake:       wake,
		metrics:    m,
		lastStanza: time.Now(),
		readerDone: make(chan struct{}),
	}
	go r.read()
	return r
}

func (r *Relay) read() {
	defer close(r.readerDone)
	for {
		el, err := r.stream.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.EOF
			}
			r.end(err)
			return
		}
		r.mu.Lock()
		if r.err != nil {
			r.mu.Unlock()
			return
		}
		if r.queueBytes+len(el.Raw) > r.maxQueue {
			r.mu.Unlock()
			r.end(ErrQueueFull)
			r.stream.Close()
			return
		}
		r.queue = append(r.queue, el)
		r.queueBytes += len(el.Raw)
		if el.Kind == xmppconn.KindStanza {
			r.lastStanza = time.Now()
			r.metrics.Stanza(metrics.ToClient, len(el.Raw))
		}
		r.mu.Unlock()
		// Wake the owner once per batch: not while more elements of the
		// same read are buffered, and never for a bare stream header,
		// whose features (or error) follow.
		if el.Kind != xmppconn.KindHeader && !r.stream.Ready() {
			r.wake()
		}
	}
}

// end records why the relay ended (the first reason wins) and wakes the owner.
func (r *Relay) end(err error) {
	r.mu.Lock()
	first := r.err == nil
	if first {
		r.err = err
	}
	r.mu.Unlock()
	if first {
		r.wake()
	}
}

// Take removes and returns everything queued, and the reason the relay
// ended (nil while it is alive). Elements queued before the end are always
// returned before the end is reported, so a client sees every stanza that
// preceded a stream error (XEP-0206 §6).
func (r *Relay) Take() ([]xmppconn.Element, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queue
	r.queue, r.queueBytes = nil, 0
	return q, r.err
}

// Pending reports whether something for the client is queued or the relay
// has ended, that is whether a waiting request would be answered now. A
// restarted stream's header alone is not an answer: the client never sees
// it and waits for the features that follow it (XEP-0206 §5).
func (r *Relay) Pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return true
	}
	for _, el := range r.queue {
		if el.Kind != xmppconn.KindHeader {
			return true
		}
	}
	return false
}

// Err returns why the relay ended, or nil while it is alive.
func (r *Relay) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// LastStanza returns when the server last sent a stanza (or when the relay
// started); the adaptive poll interval grows with the time since.
func (r *Relay) LastStanza() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastStanza
}

// NoteClientStanza records that the client sent a stanza, which counts as
// activity for the adaptive poll interval too.
func (r *Relay) NoteClientStanza() {
	r.mu.Lock()
	r.lastStanza = time.Now()
	r.mu.Unlock()
}

// Send writes complete elements to the server.
func (r *Relay) Send(p []byte) error {
	if err := r.Err(); err != nil {
		return fmt.Errorf("session: send after end: %w", err)
	}
	return r.stream.Send(p)
}

// Restart opens a new stream over the same connection (XEP-0206 §5); the new
// header and features arrive through the queue.
func (r *Relay) Restart() error {
	if err := r.Err(); err != nil {
		return fmt.Errorf("session: restart after end: %w", err)
	}
	return r.stream.Restart()
}

// Close ends the relay: it closes the upstream stream politely (the server
// then handles undelivered stanzas as for any closed client stream) and
// waits for the reader goroutine. It does not call wake. Because the reader
// goroutine may be inside wake, the caller must not hold any lock that wake
// takes. It is safe to call more than once.
func (r *Relay) Close() {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		if r.err == nil {
			r.err = ErrClosed
		}
		r.mu.Unlock()
		r.stream.Close()
		<-r.readerDone
	})
}
