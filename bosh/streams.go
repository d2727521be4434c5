package bosh

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// XEP-0124 §16 multiple streams: one BOSH session carries several XML
// streams, each to its own server (or account), each over its own
// upstream connection. The creation response names the first stream
// (§16.2, 'stream'); a later empty request with 'to' (and optionally
// 'route', checked against the same allowlist as at creation) adds one
// (§16.3) and is answered with its name, 'from' and its features. Client
// payloads with 'stream' go to that stream, payloads without it to every
// open stream (§16.4, "broadcast"); once a second stream has been open,
// every non-empty answer names the one stream all its payloads come from,
// and an answer never mixes streams. 'terminate' with 'stream' closes
// that stream only (§16.5), a stream whose server fails is closed with a
// terminate body naming it (§16.6), and closing the last stream ends the
// session. Config.MaxStreams bounds the streams of one session.
//
// The decisions the text leaves open are recorded in docs/conformance.md
// (§16): the first stream's name is always sent when the feature is on
// (§16.2 ties it to support, not to the client); a restart without
// 'stream' restarts the oldest open stream; a refused add-stream request
// (limit, domain, connection) is answered with a terminate body naming
// the stream it would have been, so that only that stream fails (§16.6)
// and the session goes on; payloads for a stream closed shortly before
// are dropped silently (§16.4's MAY), those for a name never issued end
// the session with item-not-found.
//
// Cost: a session that never adds a stream keeps its one stream inline
// (Session.first) and a nil *streams; the first stream's name is not
// stored but derived from the sid with a key of the Handler's
// (streamName), so announcing the feature costs no memory per session.

// maxClosedNames bounds the names of closed streams a session remembers
// for §16.4's "only just closed" leniency.
const maxClosedNames = 16

// upstream is one XML stream of a session over its own relay. Its states
// (adding, open, restarting, closed) and their transitions are written
// in state.go, beside the session's.
type upstream struct {
	relay *relay.Relay
	// restarting: a restart was asked and the new features have not been
	// answered yet (the session is in StateRestarting meanwhile).
	restarting bool
}

// added is a stream added to a session, with its §16 name (the first
// stream's is derived, Session.streamName, and not stored).
type added struct {
	upstream
	name string
}

// streams is what a session keeps once a client asks for a second
// stream; nil before.
type streams struct {
	extra  []*added // open streams added after the first, oldest first
	closed []string // names of closed streams, most recent last
	adding int      // add-stream dials in progress
	// tagged: more than one stream has been open, so every non-empty
	// answer names its stream (§16.4; an answer without a name would be
	// read as the first stream's).
	tagged bool
	next   int      // where readyStream's round robin starts
	dials  []addJob // add-stream dials to run without the session's lock
}

// addJob is an add-stream request waiting for its upstream dial. The
// request is found among the held by its rid when the dial ends, not
// kept by pointer: a copy of it (§14.3) may have taken its place.
type addJob struct {
	rid                 uint64
	name                string
	target              relay.Target
	from, lang, version string
}

// streamName is the first stream's name (§16.2): HMAC-SHA-256 of the sid
// under a key only this process knows, 120 bits of it, URL-safe base64.
// Opaque, unpredictable without the key and, as the sids are, unique.
func (s *Session) streamName() string {
	m := hmac.New(sha256.New, s.h.streamKey)
	m.Write([]byte(s.id))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(m.Sum(sum[:0])[:15])
}

// nameOf is u's §16 name.
func (s *Session) nameOf(u *upstream) string {
	if s.more != nil {
		for _, x := range s.more.extra {
			if &x.upstream == u {
				return x.name
			}
		}
	}
	return s.streamName()
}

// streamSet returns the session's streams record, making it on first use.
func (s *Session) streamSet() *streams {
	if s.more == nil {
		s.more = &streams{}
	}
	return s.more
}

// slots is the number of stream positions: the first and the added ones.
// streamAt(i) for i < slots() is nil for a closed first stream.
func (s *Session) slots() int {
	if s.more == nil {
		return 1
	}
	return 1 + len(s.more.extra)
}

func (s *Session) streamAt(i int) *upstream {
	if i == 0 {
		if s.first.relay == nil {
			return nil
		}
		return &s.first
	}
	return &s.more.extra[i-1].upstream
}

// openStreams counts the open streams.
func (s *Session) openStreams() int {
	n := 0
	for i := range s.slots() {
		if s.streamAt(i) != nil {
			n++
		}
	}
	return n
}

// oldestOpen is the first open stream in the order they were opened.
func (s *Session) oldestOpen() *upstream {
	for i := range s.slots() {
		if u := s.streamAt(i); u != nil {
			return u
		}
	}
	return nil
}

// lookup finds the open stream called name. known is false for a name
// the session never issued; u is nil for one closed since.
func (s *Session) lookup(name string) (u *upstream, known bool) {
	if s.more != nil {
		for _, x := range s.more.extra {
			if x.name == name {
				return &x.upstream, true
			}
		}
		if slices.Contains(s.more.closed, name) {
			return nil, true
		}
	}
	if name != "" && name == s.streamName() {
		if s.first.relay == nil {
			return nil, true
		}
		return &s.first, true
	}
	return nil, false
}

// hasData reports whether some stream has something for the client (or
// has ended), so that a held request would be answered now.
func (s *Session) hasData() bool {
	for i := range s.slots() {
		if u := s.streamAt(i); u != nil && u.relay.Pending() {
			return true
		}
	}
	return false
}

// readyStream is the stream the next answer takes its payloads from: one
// with something pending, taking turns so that a busy stream cannot
// starve the others, or the oldest open one when none has anything.
func (s *Session) readyStream() *upstream {
	if s.more == nil {
		return &s.first
	}
	n := s.slots()
	for k := range n {
		i := (s.more.next + k) % n
		if u := s.streamAt(i); u != nil && u.relay.Pending() {
			s.more.next = i + 1
			return u
		}
	}
	return s.oldestOpen()
}

// anyRestarting reports whether some stream waits for its new features.
func (s *Session) anyRestarting() bool {
	for i := range s.slots() {
		if u := s.streamAt(i); u != nil && u.restarting {
			return true
		}
	}
	return false
}

// lastStanza is when a server last sent this session a stanza.
func (s *Session) lastStanza() time.Time {
	var t time.Time
	for i := range s.slots() {
		if u := s.streamAt(i); u != nil {
			if l := u.relay.LastStanza(); l.After(t) {
				t = l
			}
		}
	}
	return t
}

// tagFor is the 'stream' attribute of an answer carrying els from u:
// empty until a second stream has been open, and on empty answers (§16.4).
func (s *Session) tagFor(u *upstream, els []xmppconn.Element) string {
	if s.more == nil || !s.more.tagged || len(els) == 0 {
		return ""
	}
	return s.nameOf(u)
}

// errUnknownStream: a request named a stream the session never had
// (§16.4: item-not-found).
var errUnknownStream = errors.New("bosh: unknown stream")

// addressed returns the streams a request's payloads go to (§16.4): the
// one it names, or every open stream when it names none. A name of a
// stream closed shortly before gives none (its payloads are dropped); a
// name never issued is errUnknownStream.
func (s *Session) addressed(b *Body, buf []*upstream) ([]*upstream, error) {
	name, named := b.Get("stream")
	if !s.multi || (!named && s.more == nil) {
		if s.first.relay == nil {
			return buf, nil
		}
		return append(buf, &s.first), nil
	}
	if named {
		u, known := s.lookup(name)
		switch {
		case !known:
			return buf, fmt.Errorf("%w %q", errUnknownStream, name)
		case u == nil:
			return buf, nil
		}
		return append(buf, u), nil
	}
	for i := range s.slots() {
		if u := s.streamAt(i); u != nil {
			buf = append(buf, u)
		}
	}
	return buf, nil
}

// isAddStream reports whether b asks for a new stream (§16.3): the
// session announced streams and the request is an empty one with 'to'.
// Restart, pause and terminate requests, which may repeat 'to'
// (XEP-0206 §5), are taken before this is asked.
func (s *Session) isAddStream(b *Body) bool {
	if !s.multi || len(b.Payloads) > 0 {
		return false
	}
	_, ok := b.Get("to")
	return ok
}

// addStream is the add-stream step (§16.3), with s.mu held: it checks the
// limit and the destination, then leaves the dial to addStreams, after
// the lock is released; r waits among the held requests, its answer
// fixed when the dial ends. A refusal names the stream r would have
// opened, with type='terminate' (§16.6), so the session goes on.
func (s *Session) addStream(r *request) {
	m := s.streamSet()
	name := relay.NewID()
	if !s.roomForStream() {
		s.refuseStream(r, name, PolicyViolation, fmt.Errorf("bosh: the session has %d streams, the limit", s.h.config().MaxStreams), nil)
		return
	}
	b := r.body
	to, _ := b.Get("to")
	route, _ := b.Get("route")
	target, err := s.h.config().Domains.Resolve(to, route)
	if err != nil {
		s.refuseStream(r, name, ConditionOf(err), err, nil)
		return
	}
	from, _ := b.Get("from")
	lang, _ := b.GetNS(nsXML, "lang")
	version, ok := b.GetNS(NSXBOSH, "version")
	if !ok {
		version = "1.0"
	}
	m.adding++
	r.adding = true
	m.dials = append(m.dials, addJob{rid: r.rid, name: name, target: target, from: from, lang: lang, version: version})
	s.holdRequest(r)
}

// roomForStream reports whether the session may open one more stream:
// its open streams and those being dialled are below Config.MaxStreams.
func (s *Session) roomForStream() bool {
	n := s.openStreams()
	if s.more != nil {
		n += s.more.adding
	}
	return n < s.h.config().MaxStreams
}

// refuseStream fixes r's answer to the refusal of the stream name
// (§16.6), held in r's turn among the held requests.
func (s *Session) refuseStream(r *request, name string, cond Condition, err error, els []xmppconn.Element) {
	// Debug: the client's doing (a limit, a destination not served),
	// as often as it likes to ask.
	s.logger().WithFields(logrus.Fields{"condition": string(cond)}).WithError(err).Debug("stream refused")
	a := s.streamEnd(r, name, cond, els)
	r.fixed = &a
	s.holdRequest(r)
}

// streamEnd is the answer that ends the stream name only (§16.6):
// type='terminate' with its condition and name, after els.
func (s *Session) streamEnd(r *request, name string, cond Condition, els []xmppconn.Element) answer {
	return s.build(r, "terminate", string(cond), name, els)
}

// takeDials removes the add-stream dials waiting to run. Called with s.mu
// held; the caller runs them with addStreams once it is released.
func (s *Session) takeDials() []addJob {
	if s.more == nil || len(s.more.dials) == 0 {
		return nil
	}
	d := s.more.dials
	s.more.dials = nil
	return d
}

// addStreams opens the upstream streams of add-stream requests, each
// dialled through the registry's DialContext (bounded by the dial
// timeout, cancelled by Shutdown) without the session's lock, and fixes
// each request's answer: its name, 'from' and features, or the refusal.
// It runs in a goroutine the registry owns (Background; Shutdown cancels
// the dial and waits for it), not on that of the HTTP request whose
// handle took the jobs: that request's own answer may be ready meanwhile
// (it processed an add-stream request that came ahead of its turn).
func (s *Session) addStreams(jobs []addJob) {
	defer relay.Recover(s.h.config().Log, "add-stream dial", s.endAfterPanic)
	cfg := s.h.config()
	for _, j := range jobs {
		dctx, cancel := s.h.reg.DialContext(context.Background(), cfg.DialTimeout)
		start := time.Now()
		st, err := cfg.Domains.Open(dctx, j.target, j.from, j.lang, j.version)
		cancel()
		if err == nil {
			s.h.reg.UpstreamConnected(time.Since(start))
		}
		if !s.installStream(j, st, err) && st != nil {
			st.Close()
		}
	}
}

// installStream finishes an add-stream request after its dial: the
// stream joins the session, or r gets the refusal. It reports whether st
// was taken (false: the caller closes it, outside the lock).
func (s *Session) installStream(j addJob, st *xmppconn.Stream, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.more
	m.adding--
	if s.state == StateClosed {
		return false
	}
	i := slices.IndexFunc(s.held, func(h *request) bool { return h.rid == j.rid })
	if i < 0 {
		// No longer held (every path that answers an adding request
		// ends the session, so this is defence): nobody could learn the
		// stream's name, so it is not opened.
		return false
	}
	r := s.held[i]
	r.adding = false
	defer s.armIdle()
	if err != nil {
		cond, els := RemoteConnectionFailed, []xmppconn.Element(nil)
		var se *xmppconn.StreamError
		if errors.As(err, &se) {
			cond, els = RemoteStreamError, []xmppconn.Element{{Kind: xmppconn.KindError, Raw: se.Raw}}
		} else if s.h.reg.Closed() {
			cond = SystemShutdown
		}
		// r is in s.held already: fix its answer and let flush give it.
		a := s.streamEnd(r, j.name, cond, els)
		r.fixed = &a
		s.logger().WithFields(logrus.Fields{"condition": string(cond), "to": j.target.Domain}).WithError(err).Info("stream refused")
		s.flush()
		return false
	}
	u := &added{name: j.name}
	u.relay = relay.NewRelay(st, s.h.config().MaxQueueBytes, s.wake, relay.Observed(s.h.reg.Observer(), s.h.reg.Transport()))
	m.extra = append(m.extra, u)
	m.tagged = true
	a := s.addedAnswer(r, u.name, j.target.Domain, st)
	r.fixed = &a
	s.logger().WithFields(logrus.Fields{"to": j.target.Domain, "streams": s.openStreams()}).Info("stream added")
	s.flush()
	return true
}

// addedAnswer is the answer to an add-stream request (§16.3): the new
// stream's name, 'from' and, as in a creation response (XEP-0206 §4),
// its authid, whether it is secure, and its first features.
func (s *Session) addedAnswer(r *request, name, domain string, st *xmppconn.Stream) answer {
	var w responseBuilder
	features := st.Features()
	w.start(len(features))
	w.attr("stream", name)
	w.attr("from", domain)
	if id := st.Header().ID; id != "" {
		w.attr("authid", id)
	}
	if st.Secure() {
		w.attr("secure", "true")
	}
	if s.acks && s.lastRID != r.rid {
		w.attrUint("ack", s.lastRID)
	}
	if len(features) > 0 {
		w.elements([]xmppconn.Element{{Kind: xmppconn.KindFeatures, Raw: features}})
	} else {
		w.empty()
	}
	return answer{body: w.buf}
}

// closeStream closes u alone (§16.5, §16.6): it leaves the session, its
// name is remembered as just closed, and its relay is closed (the last
// writes flushed, </stream:stream> sent) in a goroutine the registry
// owns and Shutdown waits for: the relay's reader may be waiting for the
// session's lock, which the caller holds. Called with s.mu held.
func (s *Session) closeStream(u *upstream) {
	m := s.streamSet()
	rl := u.relay
	name := s.nameOf(u)
	if u == &s.first {
		s.first.relay = nil
		s.first.restarting = false
	} else if i := slices.IndexFunc(m.extra, func(x *added) bool { return &x.upstream == u }); i >= 0 {
		m.extra = slices.Delete(m.extra, i, i+1)
	}
	if len(m.closed) >= maxClosedNames {
		m.closed = slices.Delete(m.closed, 0, 1)
	}
	m.closed = append(m.closed, name)
	if s.state == StateRestarting && !s.anyRestarting() {
		s.state = StateOpen
	}
	s.h.reg.Background(rl.Close)
}

// terminateStream is a terminate request naming a stream (§16.5): its
// payloads go to that stream, which closes; the request is answered in
// its turn with type='terminate' and the name. Closing the last open
// stream ends the session (the caller's endTerminate). It reports false
// when the caller should end the whole session instead.
func (s *Session) terminateStream(r *request) bool {
	name, named := r.body.Get("stream")
	if !named || !s.multi || s.more == nil {
		return false
	}
	u, known := s.lookup(name)
	switch {
	case !known:
		s.end(ItemNotFound, fmt.Errorf("%w %q", errUnknownStream, name), r)
		return true
	case u != nil && s.openStreams() == 1:
		return false // the last stream: the session ends
	}
	if u != nil {
		if len(r.body.Payloads) > 0 {
			if err := u.relay.Send(joinPayloads(r.body.Payloads), len(r.body.Payloads)); err != nil {
				s.logger().WithError(err).Debug("terminate payload not forwarded")
			}
		}
		s.closeStream(u)
		s.logger().WithField("streams", s.openStreams()).Debug("client closed a stream")
	}
	a := s.build(r, "terminate", "", name, nil)
	r.fixed = &a
	s.holdRequest(r)
	return true
}

// endStream answers r with the end of stream u only (§16.6): what it
// left, then type='terminate' with cond and its name; the other streams
// go on. Called with s.mu held, when another stream is still open.
func (s *Session) endStream(u *upstream, cond Condition, cause error, r *request, els []xmppconn.Element) {
	name := s.nameOf(u)
	s.closeStream(u)
	s.logger().WithFields(logrus.Fields{"condition": string(cond), "streams": s.openStreams()}).WithError(cause).Info("stream ended")
	s.activity.answered(len(els) > 0)
	s.deliver(r, s.streamEnd(r, name, cond, els))
}

// stopAll is the session's end for its streams: every open relay closed,
// in parallel (each may wait the close timeout for its server). nil when
// there is none.
func (s *Session) stopAll() func() {
	if s.more == nil {
		if s.first.relay == nil {
			return nil
		}
		return s.first.relay.Close
	}
	var rs []*relay.Relay
	for i := range s.slots() {
		if u := s.streamAt(i); u != nil {
			rs = append(rs, u.relay)
		}
	}
	return func() {
		var wg sync.WaitGroup
		for _, r := range rs {
			wg.Go(r.Close)
		}
		wg.Wait()
	}
}
