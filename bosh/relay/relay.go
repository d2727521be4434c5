package relay

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"boshd/xmppconn"
)

// ErrQueueFull is the reason a relay ends when its client leaves more bytes
// waiting than the queue allows.
var ErrQueueFull = errors.New("relay: too many bytes waiting for the client")

// ErrSendQueueFull is the reason a relay ends when the server does not
// read what the client sends fast enough: more bytes wait to be written
// upstream than the outgoing queue allows.
var ErrSendQueueFull = errors.New("relay: too many bytes waiting for the server")

// ErrClosed is the reason a relay ends when its owner closed it.
var ErrClosed = errors.New("relay: closed")

// Relay is one client session's upstream half: the XML stream to the
// server, the elements the server sent that the client has not fetched
// yet, and the goroutine that reads them while there is something to
// read. Its methods may be called from any goroutine.
type Relay struct {
	stream   *xmppconn.Stream
	maxQueue int
	wake     func()

	mu         sync.Mutex
	queue      []xmppconn.Element
	queueBytes int
	err        error // why the relay ended; nil while it runs
	lastStanza time.Time

	// The outgoing queue, guarded by mu: what Send and Restart handed
	// over, in order, until the writer goroutine has written it. outBytes
	// counts the item being written too, so the bound holds while the
	// server is not reading.
	out      []outgoing
	outBytes int
	maxOut   int
	stopping bool // Close was called: Send and Restart are refused
	writing  bool // a writer goroutine runs
	// writerDone is closed when the writer goroutine running now (or
	// last) exits; nil before the first. The writer runs only while the
	// outgoing queue has items, so an idle session costs no goroutine.
	writerDone chan struct{}

	obs       Observer // nil: no events (Observed)
	transport string

	// The reader, guarded by mu. A reader goroutine runs while the
	// server's bytes are there to read; on a plain TCP upstream it exits
	// when there are none (parked) and the process's poller starts the
	// next one when bytes arrive, so an idle session costs no goroutine.
	// States: running → parked (park: Stream.TryNext found nothing) →
	// running (readable); running → done (the stream ended); parked →
	// done (Close claims it). On TLS, or when the poller cannot watch
	// the stream, the reader never parks: it waits in Stream.Next.
	watched bool // the stream is registered with upstreamPoller
	noPark  bool // never park: the stream cannot be watched, or waitInNext
	parked  bool // no reader runs; readable starts one
	// again: the poller said readable while a reader ran, which must
	// then read once more before it parks (the poller is edge-triggered).
	again   bool
	readers sync.WaitGroup // the reader goroutines; Close waits for them

	closeOnce sync.Once
}

// upstreamPoller tells the relays of the whole process when a parked
// reader has something to read (one goroutine for all, running only while
// some stream is watched; each relay unwatches its stream before closing
// it, and the last one stops that goroutine).
var upstreamPoller xmppconn.Poller

// outgoing is one write for the server: elements, or a stream restart.
type outgoing struct {
	p       []byte
	n       int // stanzas in p, for the Observer
	restart bool
}

// NewRelay starts relaying stream. maxQueue bounds the bytes waiting for the
// client (0 means 1 MiB) and, four times over, the bytes waiting for the
// server. wake is called, from the relay's goroutines and without locks
// held, whenever an element was queued or the relay ended; it must not
// block. The relay owns its goroutines: the reader, which queues what the
// server sends (on a plain TCP upstream it runs only while bytes are
// there to read, and the process's poller starts it again when more
// arrive; on TLS it waits for the server), and, while something waits to
// be written, the writer, which writes what Send and Restart queued, so
// that no caller ever waits on the upstream socket. Close stops both and
// waits for them.
func NewRelay(stream *xmppconn.Stream, maxQueue int, wake func(), opts ...RelayOption) *Relay {
	if maxQueue <= 0 {
		maxQueue = 1 << 20
	}
	r := &Relay{
		stream:     stream,
		maxQueue:   maxQueue,
		maxOut:     4 * maxQueue,
		wake:       wake,
		lastStanza: time.Now(),
	}
	for _, o := range opts {
		o(r)
	}
	r.readers.Add(1)
	go r.read()
	return r
}

// write is the writer goroutine, started by enqueue when the outgoing
// queue stops being empty: it writes the queue in order and exits when it
// is empty or a write fails. done is its writerDone.
func (r *Relay) write(done chan struct{}) {
	defer close(done)
	for {
		r.mu.Lock()
		if len(r.out) == 0 {
			r.writing = false
			r.mu.Unlock()
			return
		}
		item := r.out[0]
		r.out[0] = outgoing{}
		r.out = r.out[1:]
		r.mu.Unlock()

		var err error
		if item.restart {
			err = r.stream.Restart()
		} else {
			err = r.stream.Send(item.p)
		}

		r.mu.Lock()
		r.outBytes -= len(item.p)
		if err != nil {
			r.out, r.outBytes, r.writing = nil, 0, false
		}
		r.mu.Unlock()
		if err != nil {
			r.end(fmt.Errorf("relay: upstream write: %w", err))
			return
		}
		if r.obs != nil && item.n > 0 {
			r.obs.Stanzas(r.transport, true, item.n, len(item.p))
		}
	}
}

// enqueue hands item to the writer goroutine, starting it if none runs,
// or says why it cannot.
func (r *Relay) enqueue(item outgoing, what string) error {
	r.mu.Lock()
	if r.err != nil || r.stopping {
		err := r.err
		if err == nil {
			err = ErrClosed
		}
		r.mu.Unlock()
		return fmt.Errorf("relay: %s after end: %w", what, err)
	}
	if r.outBytes+len(item.p) > r.maxOut {
		r.mu.Unlock()
		r.end(ErrSendQueueFull)
		return fmt.Errorf("relay: %s: %w", what, ErrSendQueueFull)
	}
	r.out = append(r.out, item)
	r.outBytes += len(item.p)
	if !r.writing {
		r.writing = true
		r.writerDone = make(chan struct{})
		go r.write(r.writerDone)
	}
	r.mu.Unlock()
	return nil
}

// read is the reader goroutine: it queues what the server sends until the
// stream ends or, parked, until there is nothing to read.
func (r *Relay) read() {
	defer r.readers.Done()
	for {
		el, ok, err := r.stream.TryNext()
		if err == nil && !ok {
			switch r.park() {
			case parked:
				return
			case readAgain:
				continue
			}
			el, err = r.stream.Next()
		}
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
			r.closeStream()
			return
		}
		r.queue = append(r.queue, el)
		r.queueBytes += len(el.Raw)
		if el.Kind == xmppconn.KindStanza {
			r.lastStanza = time.Now()
		}
		r.mu.Unlock()
		if r.obs != nil && el.Kind == xmppconn.KindStanza {
			r.obs.Stanzas(r.transport, false, 1, len(el.Raw))
		}
		// Wake the owner once per batch: not while more elements of the
		// same read are buffered, and never for a bare stream header,
		// whose features (or error) follow.
		if el.Kind != xmppconn.KindHeader && !r.stream.Ready() {
			r.wake()
		}
	}
}

// What park decided.
const (
	parked    = iota // the goroutine exits; the poller starts the next reader
	readAgain        // bytes may have arrived meanwhile: TryNext again
	wait             // no poller for this stream, or closing: wait in Next
)

// park ends the running reader, which found nothing to read, unless the
// poller said readable meanwhile or the stream cannot be watched. The
// first park registers the stream with the poller; Watch is a system
// call on the epoll set, not network I/O, so it is made under mu, which
// orders it before Close's unwatch and against readable.
func (r *Relay) park() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.again:
		r.again = false
		return readAgain
	case r.stopping || r.err != nil || r.noPark:
		return wait
	}
	if !r.watched {
		if !upstreamPoller.Watch(r.stream, r.readable) {
			r.noPark = true // TLS, or not a socket: it will not change
			return wait
		}
		r.watched = true
		// Bytes that came since TryNext found none make the poller call
		// readable at once: epoll reports a descriptor that is already
		// readable when it is added.
	}
	r.parked = true
	return parked
}

// waitInNext makes the relay's reader wait in Stream.Next, one goroutine
// per relay, as before readers parked: benchmarks compare the two.
func waitInNext() RelayOption { return func(r *Relay) { r.noPark = true } }

// readable is called by the poller when bytes may have arrived: it starts
// a reader if none runs, or tells the running one to read again.
func (r *Relay) readable() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.parked {
		r.again = true
		return
	}
	r.parked = false
	r.readers.Add(1)
	go r.read()
}

// closeStream unregisters the stream from the poller, so that its
// descriptor's number is not in the epoll set when it is reused, and
// closes it.
func (r *Relay) closeStream() {
	upstreamPoller.Unwatch(r.stream)
	r.stream.Close()
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

// Send queues complete elements for the server, stanzas of them (for the
// Observer, once written), and returns at once: the relay's writer
// goroutine writes them, in the order of the calls to Send and Restart. It fails when the relay has ended, or when more than the
// outgoing bound waits for a server that does not read (ErrSendQueueFull,
// which ends the relay). A write that fails later ends the relay, which
// the owner learns from Err and Take, after a wake.
func (r *Relay) Send(p []byte, stanzas int) error {
	return r.enqueue(outgoing{p: p, n: stanzas}, "send")
}

// Restart queues a new stream header over the same connection (XEP-0206
// §5), after everything sent before; the new header and features arrive
// through the queue.
func (r *Relay) Restart() error {
	return r.enqueue(outgoing{restart: true}, "restart")
}

// Close ends the relay: it lets the writer write what is already queued
// (for at most the stream's close timeout: a terminating client's last
// presence should reach the server), closes the upstream stream politely
// (the server then handles undelivered stanzas as for any closed client
// stream), which cuts short a write the server does not read, and waits
// for both goroutines. It does not call wake. Because the reader goroutine
// may be inside wake, the caller must not hold any lock that wake takes.
// It is safe to call more than once.
func (r *Relay) Close() {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.stopping = true // no writer starts, and no reader parks, after this
		r.parked = false  // a parked reader is not restarted
		writer := r.writerDone
		r.mu.Unlock()
		if writer != nil {
			t := time.NewTimer(r.stream.CloseTimeout())
			select {
			case <-writer:
			case <-t.C:
			}
			t.Stop()
		}
		r.mu.Lock()
		if r.err == nil {
			r.err = ErrClosed
		}
		r.mu.Unlock()
		r.closeStream()
		if writer != nil {
			<-writer
		}
		r.readers.Wait()
	})
}
