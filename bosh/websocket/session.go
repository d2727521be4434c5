package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	ws "github.com/coder/websocket"
	"github.com/sirupsen/logrus"

	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// State is where a WebSocket session is in its life (RFC 7395 §3.3-3.6).
type State uint8

const (
	// StateAwaitOpen: the handshake is done; the client's first <open/>
	// has not arrived. Next: StateOpen, or StateClosing.
	StateAwaitOpen State = iota
	// StateOpen: the upstream stream is open and relayed both ways; the
	// client's later <open/>s restart it (RFC 7395 §3.5). Next:
	// StateClosing.
	StateOpen
	// StateClosing: an end was decided (see ending); the final messages
	// and the closing handshake are being written. Next: StateClosed.
	StateClosing
	// StateClosed: the WebSocket is closed and the upstream stream handed
	// to the registry to close. Terminal.
	StateClosed
)

// String returns the state's name, for logs.
func (s State) String() string {
	switch s {
	case StateAwaitOpen:
		return "await-open"
	case StateOpen:
		return "open"
	case StateClosing:
		return "closing"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ending is why a session ends and so what its client is sent last.
type ending struct {
	// cond, when set, is sent as a <stream:error/> first.
	cond *Condition
	// silent: the client is gone; nothing is written, the connection is
	// dropped.
	silent bool
	// seeOther, when set, goes in the <close/> (RFC 7395 §3.6.1).
	seeOther string
	// sentClose: the server's own end of stream was already relayed as a
	// <close/>.
	sentClose bool
}

// Session is one XMPP stream over one WebSocket connection. Its owner is
// the ServeHTTP call that accepted the connection: that goroutine reads the
// client's messages, and returns only once the session is over. The other
// direction has no goroutine while idle: signal (called by the relay when
// the server sent something, by the ping timer, or when the session must
// end) starts one drain goroutine, which relays the server's elements,
// pings, or writes the final messages, then exits; the owner waits for the
// last one (writerDone).
type Session struct {
	h    *Handler
	conn *ws.Conn
	addr string
	log  logrus.FieldLogger

	// writerDone is closed once the last messages are written and the
	// connection closed (by the drain that ran finish).
	writerDone chan struct{}
	// pinger fires every PingInterval while the session is open.
	pinger *time.Timer

	// Set once the upstream stream is open, before the first drain.
	up     upstream
	id     string
	domain string // the served domain, for the metrics' labels

	// Owned by the one drain goroutine running at a time (handed from one
	// to the next under mu).
	buf       []byte
	sentClose bool

	mu      sync.Mutex
	state   State
	end     *ending // the first reason to end wins
	started bool    // drains may run: the upstream stream is open
	writing bool    // a drain goroutine runs
	again   bool    // signalled while a drain ran: it goes round once more
	pingDue bool    // the pinger fired; the next drain pings
	over    bool    // finish has been decided: no drain starts any more
}

func newSession(h *Handler, conn *ws.Conn, addr string) *Session {
	return &Session{
		h:          h,
		conn:       conn,
		addr:       addr,
		log:        h.config().Log.WithField("remote", addr),
		writerDone: make(chan struct{}),
	}
}

// signal has the server-to-client side look at the session: it starts a
// drain goroutine unless one runs (that one then goes round once more). It
// never blocks; the relay calls it from its reader goroutine. An idle
// session so has no writer goroutine at all.
func (s *Session) signal() {
	s.mu.Lock()
	switch {
	case !s.started || s.over:
		s.mu.Unlock()
		return
	case s.writing:
		s.again = true
		s.mu.Unlock()
		return
	}
	s.writing = true
	s.mu.Unlock()
	go s.drain()
}

// stopWith records why the session ends, unless a reason is already
// recorded, and signals the session to act on it.
func (s *Session) stopWith(e ending) {
	s.mu.Lock()
	if s.end == nil {
		s.end = &e
	}
	s.mu.Unlock()
	s.signal()
}

// ending returns the recorded reason to end, or nil.
func (s *Session) ending() *ending {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end
}

func (s *Session) setState(st State) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

// shutdown ends the session because boshd stops (Handler.Shutdown).
func (s *Session) shutdown() {
	if uri := s.h.config().SeeOtherURI; uri != "" {
		s.stopWith(ending{seeOther: uri})
		return
	}
	s.stopWith(ending{cond: &Condition{"system-shutdown", "boshd is shutting down"}})
}

// serve runs the session: the first <open/>, then the client's messages
// until the session ends; it returns once the connection is closed and
// the upstream stream handed to the registry.
func (s *Session) serve() {
	started := false
	defer func() {
		// A panic ends this session only: its connection is dropped, its
		// writer joined and its upstream stream retired.
		if v := recover(); v != nil {
			s.log.WithField("panic", fmt.Sprint(v)).WithField("stack", string(debug.Stack())).Error("websocket session panicked")
			s.conn.CloseNow()
			if started {
				s.stopWith(ending{silent: true})
				<-s.writerDone
				s.h.reg.End(s.id, nil, s.up.Close, s.log, relay.Ending{
					Condition: "internal-server-error", Message: "websocket session ended: panic", Warn: true})
			}
		}
	}()
	defer s.conn.CloseNow()
	if !s.start() {
		s.setState(StateClosed)
		return
	}
	started = true
	s.pinger = time.AfterFunc(s.h.config().PingInterval, s.pingDueNow)
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	s.signal() // whatever arrived while the stream was opened
	s.readLoop()
	<-s.writerDone
	s.setState(StateClosed)
	cond := endCondition(s.ending())
	s.h.reg.End(s.id, nil, s.up.Close, s.log, relay.Ending{Condition: cond, Message: "websocket session ended"})
}

// start waits for the client's first <open/> (RFC 7395 §3.3.2), checks its
// domain, opens the upstream stream and answers with the server's <open/>
// and features. It reports false when the session ended instead, having
// told the client why.
func (s *Session) start() bool {
	ctx, cancel := context.WithTimeout(s.h.stop, s.h.config().PingTimeout)
	m, err := s.read(ctx)
	cancel()
	if err != nil {
		var c *Condition
		if errors.As(err, &c) {
			s.refuse(Open{}, c)
		}
		return false
	}
	if !m.Is(NSFraming, "open") {
		c := &Condition{"not-authorized", "the stream must start with <open/>"}
		if m.Name.Local == "open" {
			c = &Condition{"invalid-namespace", "<open/> must be in " + NSFraming}
		}
		s.refuse(Open{}, c)
		return false
	}
	o := parseOpen(m)
	res, err := s.h.reg.Reserve(s.addr)
	if err != nil {
		if uri := s.h.config().SeeOtherURI; uri != "" && (errors.Is(err, relay.ErrShuttingDown) || errors.Is(err, relay.ErrDraining)) {
			// A draining (or stopping) node sends the client elsewhere
			// (RFC 7395 §3.6.1) rather than failing it.
			s.refuseSeeOther(o, uri)
			return false
		}
		s.refuse(o, conditionOf(err))
		return false
	}
	t, err := s.h.resolve(o)
	if err != nil {
		res.Cancel()
		s.refuse(o, conditionOf(err))
		return false
	}
	log := s.log.WithField("domain", t.Domain)
	op, err := s.h.openRelay(s.h.stop, t, o, s.signal)
	if err != nil {
		res.Cancel()
		log.WithError(err).Info("websocket session refused: upstream failed")
		s.refuse(o, s.dialCondition(err))
		return false
	}
	id, err := res.Commit(s)
	if err != nil {
		op.up.Close()
		s.refuse(o, conditionOf(err))
		return false
	}
	s.up, s.id, s.domain = op.up, id, t.Domain
	s.h.reg.Opened(id, t.Domain)
	s.log = log.WithField("ws", id)
	hdr := op.header
	if hdr.From == "" {
		hdr.From = t.Domain
	}
	msg := appendOpen(nil, hdr)
	if s.write(msg) != nil {
		s.stopWith(ending{silent: true})
	} else if op.features != nil {
		f := xmppconn.Element{Kind: xmppconn.KindFeatures, Raw: op.features, NameEnd: nameEnd(op.features)}
		if s.write(appendElement(msg[:0], f)) != nil {
			s.stopWith(ending{silent: true})
		}
	}
	s.setState(StateOpen)
	s.log.Info("websocket session started")
	return true
}

// dialCondition is what a client is told when the upstream stream could
// not be opened: the server's own stream error, system-shutdown when boshd
// stops, else remote-connection-failed (XEP-0124 §17.2's meaning, also an
// RFC 6120 §4.9.3.15 condition).
func (s *Session) dialCondition(err error) *Condition {
	var se *xmppconn.StreamError
	switch {
	case errors.As(err, &se) && se.Condition != "":
		return &Condition{se.Condition, se.Text}
	case s.h.stop.Err() != nil, s.h.reg.Closed():
		return &Condition{"system-shutdown", "boshd is shutting down"}
	}
	return &Condition{"remote-connection-failed", "could not connect to the XMPP server"}
}

// refuseSeeOther ends a session that never opened with <open/> and
// <close see-other-uri/> (RFC 7395 §3.6.1): no error, only where to go.
func (s *Session) refuseSeeOther(o Open, uri string) {
	s.log.WithField("see-other-uri", uri).Info("websocket session sent elsewhere")
	hdr := xmppconn.Header{From: o.To, ID: relay.NewID(), Version: "1.0"}
	if s.write(appendOpen(nil, hdr)) != nil {
		return
	}
	s.finish(ending{seeOther: uri})
}

// refuse ends a session that never opened: RFC 6120 §4.9.1.2 asks for a
// stream header before the error, so the client gets <open/>, the error,
// and <close/>.
func (s *Session) refuse(o Open, c *Condition) {
	s.log.WithField("condition", c.Name).Info("websocket session refused")
	hdr := xmppconn.Header{From: o.To, ID: relay.NewID(), Version: "1.0"}
	if s.write(appendOpen(nil, hdr)) != nil {
		return
	}
	s.finish(ending{cond: c})
}

// read returns the client's next message, skipping empty ones. Its errors
// are a *Condition for a message that breaks the rules, or errGone.
func (s *Session) read(ctx context.Context) (Message, error) {
	for {
		typ, p, err := s.conn.Read(ctx)
		if err != nil {
			if ws.CloseStatus(err) == ws.StatusMessageTooBig {
				return Message{}, &Condition{"policy-violation", "message too large"}
			}
			return Message{}, fmt.Errorf("%w: %w", errGone, err)
		}
		if typ != ws.MessageText {
			// RFC 7395 §3.2: the subprotocol uses text messages only.
			return Message{}, &Condition{"unsupported-encoding", "only text messages carry XMPP (RFC 7395 §3.2)"}
		}
		m, err := ParseMessage(p, s.h.config().MaxDepth)
		if err != nil {
			return Message{}, conditionOf(err)
		}
		if m.Raw != nil {
			return m, nil
		}
	}
}

// errGone: the client went away or broke the WebSocket protocol.
var errGone = errors.New("websocket: client gone")

// readLoop relays the client's messages to the server until the session
// ends (RFC 7395 §3.3-3.6).
func (s *Session) readLoop() {
	for s.ending() == nil {
		m, err := s.read(context.Background())
		if err != nil {
			var c *Condition
			if errors.As(err, &c) {
				s.stopWith(ending{cond: c})
			} else {
				s.log.WithError(err).Debug("websocket client gone")
				s.stopWith(ending{silent: true})
			}
			return
		}
		switch {
		case m.Is(NSFraming, "open"):
			// §3.5: after SASL success (and resource binding's predecessor),
			// the client opens a new stream over the same connection.
			if err := s.up.Restart(); err != nil {
				s.stopWith(ending{cond: conditionOf(err)})
				return
			}
		case m.Is(NSFraming, "close"):
			// §3.6: answered with <close/>, the upstream stream closed.
			s.stopWith(ending{})
			return
		case m.Name.Space == NSFraming:
			s.stopWith(ending{cond: &Condition{"unsupported-stanza-type", "<" + m.Name.Local + "/> is not part of RFC 7395 framing"}})
			return
		case m.Is(nsTLS, "starttls"), m.Is(nsCompress, "compress"):
			// TLS belongs to the WebSocket (wss:), and compression would hide
			// the stream from boshd; the upstream stream is boshd's to secure.
			s.stopWith(ending{cond: &Condition{"policy-violation", "use wss: for TLS; stream compression is not offered"}})
			return
		default:
			if err := s.up.Send(m.Raw, 1); err != nil {
				s.stopWith(ending{cond: conditionOf(err)})
				return
			}
		}
	}
}

// pingDueNow runs when the ping timer fires: the next drain pings.
func (s *Session) pingDueNow() {
	s.mu.Lock()
	s.pingDue = true
	s.mu.Unlock()
	s.signal()
}

// drain relays what the server sent, one element per message, pings the
// client when due, and ends the session when the relay or the reader says
// so. One drain runs at a time (see signal); the one that ends the session
// writes the final messages and closes writerDone.
func (s *Session) drain() {
	defer func() {
		if v := recover(); v != nil {
			s.log.WithField("panic", fmt.Sprint(v)).WithField("stack", string(debug.Stack())).Error("websocket writer panicked")
			s.conn.CloseNow()
			s.ended(ending{silent: true}, false)
		}
	}()
	for {
		s.mu.Lock()
		ping := s.pingDue
		s.pingDue = false
		s.mu.Unlock()
		if ping {
			ctx, cancel := context.WithTimeout(context.Background(), s.h.config().PingTimeout)
			err := s.conn.Ping(ctx)
			cancel()
			if err != nil {
				s.log.WithError(err).Info("websocket client did not answer a ping")
				s.stopWith(ending{silent: true})
			} else {
				s.pinger.Reset(s.h.config().PingInterval)
			}
		}
		els, upErr := s.up.Take()
		for _, el := range els {
			switch el.Kind {
			case xmppconn.KindHeader:
				h, _ := xmppconn.ParseHeader(el.Raw)
				s.buf = appendOpen(s.buf[:0], h)
			case xmppconn.KindEnd:
				s.buf = appendClose(s.buf[:0], "")
				s.sentClose = true
			default:
				s.buf = appendElement(s.buf[:0], el)
			}
			if err := s.write(s.buf); err != nil {
				s.ended(ending{silent: true}, true)
				return
			}
		}
		if cap(s.buf) > 4<<10 {
			s.buf = nil // an idle session keeps no large buffer
		}
		if e := s.ending(); e != nil {
			s.ended(*e, true)
			return
		}
		if upErr != nil {
			s.ended(upstreamEnding(upErr, s.sentClose), true)
			return
		}
		s.mu.Lock()
		if !s.again {
			s.writing = false
			s.mu.Unlock()
			return
		}
		s.again = false
		s.mu.Unlock()
	}
}

// ended stops further drains and the pinger, writes e's final messages
// when write is set (else only closes the connection), and closes
// writerDone.
func (s *Session) ended(e ending, write bool) {
	s.mu.Lock()
	if s.over {
		s.mu.Unlock()
		return
	}
	s.over = true
	s.mu.Unlock()
	defer close(s.writerDone)
	s.pinger.Stop()
	if write {
		s.finish(e)
	} else {
		s.conn.CloseNow()
	}
}

// upstreamEnding is how a session ends when its upstream stream did: the
// server closed it (its </stream:stream> was relayed as <close/>), sent a
// stream error (relayed; <close/> follows), or the connection failed or
// broke the rules.
func upstreamEnding(err error, sentClose bool) ending {
	var se *xmppconn.StreamError
	switch {
	case errors.Is(err, io.EOF):
		return ending{sentClose: sentClose}
	case errors.As(err, &se):
		return ending{}
	}
	return ending{cond: conditionOf(err)}
}

// write sends one text message, within WriteTimeout.
func (s *Session) write(p []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.h.config().WriteTimeout)
	defer cancel()
	return s.conn.Write(ctx, ws.MessageText, p)
}

// finish writes the last messages e asks for and closes the connection
// (RFC 7395 §3.6: the stream error, <close/>, then the WebSocket closing
// handshake). It is called once, by whichever goroutine writes.
func (s *Session) finish(e ending) {
	s.setState(StateClosing)
	if e.silent {
		s.conn.CloseNow()
		return
	}
	if e.cond != nil {
		s.log.WithField("condition", e.cond.Name).Info("websocket session ends with a stream error")
		if s.write(appendStreamError(nil, e.cond)) != nil {
			s.conn.CloseNow()
			return
		}
	}
	if !e.sentClose && s.write(appendClose(nil, e.seeOther)) != nil {
		s.conn.CloseNow()
		return
	}
	s.conn.Close(ws.StatusNormalClosure, "")
}
