package client

import (
	"context"
	"errors"
	"fmt"
)

// XEP-0124 §16 multiple streams from the client's side: a CM that names
// the first stream in its creation response (Params.Stream) lets the
// session carry more streams, each to its own server or account.
// [Session.AddStream] opens one and returns its name; [Session.LoginStream]
// logs in on it; [Session.SendStream] sends to one stream (Send, naming
// none, sends to all of them, §16.4); [Session.CloseStream] closes one.
// Answers name the stream their stanzas come from: Config.OnStreamStanza
// receives that name with each stanza. A CM ending one stream (§16.6) does
// not end the session: [Session.StreamErr] tells why it ended.

// streamState is what the client knows of one added stream.
type streamState struct {
	domain   string
	features []byte
	err      error // why it ended; nil while open
}

// ErrNoStreams is returned by AddStream when the CM did not announce
// multiple streams (XEP-0124 §16.2: no 'stream' in its creation response).
var ErrNoStreams = errors.New("client: the connection manager does not support multiple streams")

// streamOf is the 'stream' attribute of b ("" for none, or no body).
func streamOf(b *Body) string {
	if b == nil {
		return ""
	}
	return b.Attrs["stream"]
}

// sameStream reports whether an answer's 'stream' got belongs to the
// stream want, "" meaning the first (which answers may name or not).
func (s *Session) sameStream(got, want string) bool {
	if got == want {
		return true
	}
	first := s.Params.Stream
	return first != "" && (got == "" && want == first || got == first && want == "")
}

// featuresOf is the latest features of stream ("" for the first).
func (s *Session) featuresOf(stream string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.streams[stream]; stream != "" && st != nil {
		return st.features
	}
	return s.Features
}

// setFeatures records the latest features of stream.
func (s *Session) setFeatures(stream string, f []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.streams[stream]; stream != "" && st != nil {
		st.features = f
		return
	}
	s.Features = f
}

// domainOf is the domain stream was opened to.
func (s *Session) domainOf(stream string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.streams[stream]; stream != "" && st != nil {
		return st.domain
	}
	return s.cfg.Domain
}

// StreamFeatures returns the latest <stream:features/> of stream, as
// sent ("" or the first stream's name: Features).
func (s *Session) StreamFeatures(stream string) []byte { return s.featuresOf(stream) }

// streamEnded records that the CM ended stream (XEP-0124 §16.6).
func (s *Session) streamEnded(stream string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.streams[stream]; st != nil && st.err == nil {
		st.err = err
	}
}

// StreamErr returns why stream ended (a *TerminateError with the CM's
// condition, or ErrClosed after CloseStream), or nil while it is open or
// unknown.
func (s *Session) StreamErr(stream string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.streams[stream]; st != nil {
		return st.err
	}
	return nil
}

// AddStream asks the CM for another stream in the session (XEP-0124
// §16.3): an empty request with 'to' (and 'route' unless empty), answered
// with the new stream's name and its features. A refusal (the CM's limit,
// a domain it does not serve, a server it cannot reach) is a
// *TerminateError for that stream only: the session goes on. Like Login,
// it is a sequential tool: call it before Run.
func (s *Session) AddStream(ctx context.Context, to, route string) (string, error) {
	if s.Params.Stream == "" {
		return "", ErrNoStreams
	}
	attrs := map[string]string{"to": to, "xml:lang": s.cfg.Lang}
	if route != "" {
		attrs["route"] = route
	}
	fl, err := s.begin(nil, attrs, false)
	if err != nil {
		return "", err
	}
	b, deliver, err := s.exchange(ctx, fl, isFeatures)
	s.complete(fl.rid, streamOf(b), deliver)
	if err != nil {
		return "", fmt.Errorf("client: add stream to %s: %w", to, err)
	}
	name := b.Attrs["stream"]
	if b.Type() == "terminate" {
		return "", fmt.Errorf("client: add stream to %s: %w", to, &TerminateError{Condition: b.Condition(), Body: b})
	}
	if name == "" {
		return "", fmt.Errorf("client: add stream to %s: the answer names no stream", to)
	}
	st := &streamState{domain: to}
	for _, p := range b.Payloads {
		if isFeatures(p) {
			st.features = p
		}
	}
	s.mu.Lock()
	if s.streams == nil {
		s.streams = make(map[string]*streamState)
	}
	s.streams[name] = st
	s.mu.Unlock()
	return name, nil
}

// SendStream is Send to one stream (XEP-0124 §16.4): the request names
// it. Send, naming none, has the CM send the stanzas to every stream.
func (s *Session) SendStream(ctx context.Context, stream string, stanzas ...[]byte) error {
	return s.sendAttrs(ctx, map[string]string{"stream": stream}, stanzas)
}

// CloseStream closes one stream of the session (XEP-0124 §16.5): a
// terminate request naming it, with the payloads (typically an
// unavailable presence). The session and its other streams go on; closing
// the last stream ends the session.
func (s *Session) CloseStream(ctx context.Context, stream string, payloads ...[]byte) error {
	err := s.sendAttrs(ctx, map[string]string{"stream": stream, "type": "terminate"}, payloads)
	s.streamEnded(stream, ErrClosed)
	return err
}

// sendAttrs is Send with attrs on the request.
func (s *Session) sendAttrs(ctx context.Context, attrs map[string]string, stanzas [][]byte) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	fl, err := s.begin(stanzas, attrs, false)
	if err != nil {
		return err
	}
	b, deliver, err := s.exchange(ctx, fl, nil)
	s.complete(fl.rid, streamOf(b), deliver)
	return err
}
