package bosh

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// Version is the highest XEP-0124 version boshd implements; the creation
// response carries the lower of it and the client's (§7.2).
const Version = "1.11"

const nsXML = "http://www.w3.org/XML/1998/namespace"

// create handles a session creation request (XEP-0124 §7.1, XEP-0206 §3):
// it checks the request, opens the upstream stream and answers with the
// session's attributes and the server's first <stream:features/>.
func (h *Handler) create(ctx context.Context, b *Body, rid uint64, addr string) answer {
	ver, hasVer := b.Get("ver")
	legacy := !hasVer
	fail := func(cond Condition, err error) answer {
		h.config().Log.WithFields(logrus.Fields{"remote": addr, "condition": string(cond)}).WithError(err).Info("session refused")
		return terminalAnswer(cond, legacy, "", nil)
	}
	if h.reg.Closed() {
		return fail(SystemShutdown, relay.ErrShuttingDown)
	}
	wait, err := attrSeconds(b, "wait", h.config().MaxWait)
	if err != nil {
		return fail(BadRequest, err)
	}
	hold, err := attrInt(b, "hold", 1)
	if err != nil {
		return fail(BadRequest, err)
	}
	if wait > h.config().MaxWait {
		wait = h.config().MaxWait
	}
	if hold > h.config().MaxHold {
		hold = h.config().MaxHold
	}
	to, _ := b.Get("to")
	route, _ := b.Get("route")
	target, err := h.config().Domains.Resolve(to, route)
	if err != nil {
		return fail(ConditionOf(err), err)
	}
	res, err := h.reg.Reserve(addr)
	if err != nil {
		return fail(ConditionOf(err), err)
	}

	from, _ := b.Get("from")
	lang, _ := b.GetNS(nsXML, "lang")
	xmppVersion, ok := b.GetNS(NSXBOSH, "version")
	if !ok {
		// Clients that speak SASL but leave xmpp:version out (or put it
		// in another namespace, see GetNS) still want an XMPP 1.0 stream.
		xmppVersion = "1.0"
	}
	dctx, cancel := h.reg.DialContext(ctx, h.config().DialTimeout)
	dialStart := time.Now()
	stream, err := h.config().Domains.Open(dctx, target, from, lang, xmppVersion)
	cancel()
	if err == nil {
		h.reg.UpstreamConnected(time.Since(dialStart))
	}
	if err != nil {
		res.Cancel()
		if h.reg.Closed() {
			return fail(SystemShutdown, fmt.Errorf("bosh: connecting to %s: %w", target.Domain, relay.ErrShuttingDown))
		}
		var se *xmppconn.StreamError
		if errors.As(err, &se) {
			h.config().Log.WithFields(logrus.Fields{"remote": addr, "domain": target.Domain}).WithError(err).Info("session refused by the server")
			return terminalAnswer(RemoteStreamError, legacy, "", []xmppconn.Element{{Kind: xmppconn.KindError, Raw: se.Raw}})
		}
		return fail(RemoteConnectionFailed, fmt.Errorf("bosh: connecting to %s: %w", target.Domain, err))
	}

	s := &Session{
		h:          h,
		wait:       wait,
		hold:       hold,
		requests:   hold + 1,
		polling:    hold == 0 || wait == 0,
		inactivity: h.config().Inactivity,
		maxPause:   h.config().MaxPause,
		legacy:     legacy,
		multi:      h.config().MaxStreams > 1,
		lastRID:    rid,
		lastAnswer: rid,
	}
	if s.polling {
		s.hold = 0
	}
	s.content = contentType(b)
	s.encodings = encodingsOf(b)
	if v, _ := b.Get("ack"); v == "1" {
		s.acks = true
	}
	if k, ok := b.Get("newkey"); ok {
		s.key = k
	}
	s.cache.limit = s.requests + 1
	if s.acks {
		s.cache.limit = 16
	}
	// Shutdown can reach the session the moment it is in the registry:
	// hold its lock until the id and relay are set, or Shutdown's retire
	// would find no relay to close and leave the stream and its reader
	// running.
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := res.Commit(s)
	if err != nil {
		stream.Close()
		return fail(ConditionOf(err), err)
	}
	s.id = id
	s.remote, s.domain = addr, target.Domain
	s.first.relay = relay.NewRelay(stream, h.config().MaxQueueBytes, s.wake, relay.Observed(h.reg.Observer(), h.reg.Transport()))
	h.reg.Opened(id, target.Domain)

	var w responseBuilder
	features := stream.Features()
	w.start(len(features))
	w.attr("sid", id)
	w.attrInt("wait", int64(wait/time.Second))
	w.attrInt("requests", int64(s.requests))
	w.attrInt("hold", int64(hold))
	w.attrInt("polling", int64(h.config().Polling/time.Second))
	w.attrInt("inactivity", int64(s.inactivityAdvertised()/time.Second))
	if s.maxPause > 0 {
		w.attrInt("maxpause", int64(s.maxPause/time.Second))
	}
	if hasVer {
		w.attr("ver", lowerVersion(ver, Version))
	}
	w.attr("from", target.Domain)
	if s.multi {
		// XEP-0124 §16.2: the feature is announced by naming the
		// first stream.
		w.attr("stream", s.streamName())
	}
	if id := stream.Header().ID; id != "" {
		w.attr("authid", id)
	}
	if stream.Secure() {
		w.attr("secure", "true")
	}
	if s.acks {
		w.attrUint("ack", rid)
	}
	if h.config().Compression {
		w.attr("accept", acceptAttr) // §7.2, see compress.go
	}
	w.buf = append(w.buf, " xmlns:xmpp='"+NSXBOSH+"'"...)
	w.attr("xmpp:version", "1.0")
	w.attr("xmpp:restartlogic", "true")
	s.activity.answered(len(features) > 0)
	poll := s.pollAttrs(&w)
	if len(features) > 0 {
		w.elements([]xmppconn.Element{{Kind: xmppconn.KindFeatures, Raw: features}})
	} else {
		w.empty()
	}
	a := answer{body: w.buf, pollSeconds: poll}
	s.cache.add(rid, keysOf(b), a, time.Now())
	s.activity.lastAt = time.Now()
	s.armIdle()
	s.logger().WithFields(logrus.Fields{"wait": wait, "hold": hold, "secure": stream.Secure()}).Info("session created")
	return a
}

// contentType is the Content-Type the client asked for with 'content'
// (§7.1), or "" (the default) when the value is not a media type: it goes
// into a header verbatim, where line breaks or junk have no place.
func contentType(b *Body) string {
	v, ok := b.Get("content")
	if !ok || len(v) > 200 {
		return ""
	}
	if mt, _, err := mime.ParseMediaType(v); err != nil || !strings.Contains(mt, "/") {
		return ""
	}
	return v
}

// inactivityAdvertised is the 'inactivity' told to the client: polling
// sessions get more than the poll interval on top (§12).
func (s *Session) inactivityAdvertised() time.Duration {
	if s.polling {
		return s.inactivity + s.h.config().Polling
	}
	return s.inactivity
}

// attrSeconds reads a non-negative whole number of seconds. A number too
// large to represent is not an error: the caller clamps it to its maximum
// (§7.2), so it is read as the largest value.
func attrSeconds(b *Body, name string, def time.Duration) (time.Duration, error) {
	v, ok := b.Get(name)
	if !ok {
		return def, nil
	}
	n, err := parseCount(v, 1<<32)
	if err != nil {
		return 0, fmt.Errorf("bosh: %s=%q: %w", name, v, ErrBadBody)
	}
	return time.Duration(n) * time.Second, nil
}

func attrInt(b *Body, name string, def int) (int, error) {
	v, ok := b.Get(name)
	if !ok {
		return def, nil
	}
	n, err := parseCount(v, 1<<16)
	if err != nil {
		return 0, fmt.Errorf("bosh: %s=%q: %w", name, v, ErrBadBody)
	}
	return int(n), nil
}

// parseCount reads a non-negative decimal integer, saturating at limit.
func parseCount(v string, limit uint64) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return limit, nil
	}
	if err != nil {
		return 0, err
	}
	return min(n, limit), nil
}

// lowerVersion returns the lower of two "major.minor" versions, comparing
// the minor numbers as integers (XEP-0124 §7.1: 1.10 is above 1.9).
func lowerVersion(a, b string) string {
	am, an, ok1 := splitVersion(a)
	bm, bn, ok2 := splitVersion(b)
	if !ok1 {
		return b
	}
	if !ok2 || am < bm || (am == bm && an < bn) {
		return a
	}
	return b
}

func splitVersion(v string) (major, minor uint64, ok bool) {
	ma, mi, found := strings.Cut(v, ".")
	if !found {
		return 0, 0, false
	}
	var err1, err2 error
	major, err1 = strconv.ParseUint(ma, 10, 32)
	minor, err2 = strconv.ParseUint(mi, 10, 32)
	return major, minor, err1 == nil && err2 == nil
}

// shortID is the part of a sid that logs show: enough to tell sessions
// apart, too little to hijack one.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
