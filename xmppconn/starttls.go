package xmppconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
)

// startTLSRequest asks the server to go ahead with TLS (RFC 6120 §5.4.2.1).
const startTLSRequest = "<starttls xmlns='" + NSTLS + "'/>"

// startTLS runs RFC 6120 §5.4.2-§5.4.3: ask, expect <proceed/>, then run
// the TLS handshake over the same connection and read the rest with a
// fresh splitter (the old stream's state is discarded, §5.4.3.3).
func (s *Stream) startTLS(ctx context.Context, d *Dialer) error {
	if _, err := s.conn.Write([]byte(startTLSRequest)); err != nil {
		return fmt.Errorf("starttls: %w", err)
	}
	el, err := s.next()
	if err != nil {
		return fmt.Errorf("starttls: %w", err)
	}
	switch {
	case el.Kind == KindError:
		return newStreamError(el.Raw)
	case el.Kind != KindStanza:
		return fmt.Errorf("starttls: expected <proceed/>, got %s", el.Kind)
	case el.Name == "failure" && xmlnsIs(el.Raw, NSTLS):
		return errors.New("starttls: the server answered <failure/> (RFC 6120 §5.4.2.2)")
	case el.Name != "proceed" || !xmlnsIs(el.Raw, NSTLS):
		return fmt.Errorf("starttls: expected <proceed/>, got %.100q", el.Raw)
	}
	// Bytes after <proceed/> would be read as if they came over TLS:
	// refuse them rather than let a man in the middle inject them.
	if n := s.sp.buffered(); n > 0 {
		return fmt.Errorf("starttls: %d unexpected bytes after <proceed/>", n)
	}
	tc := tls.Client(s.conn, d.tlsConfigFor(s.params.To))
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("starttls: handshake: %w", err)
	}
	s.conn = tc
	s.secure = true
	s.sp = Splitter{MaxElementBytes: s.sp.MaxElementBytes, MaxDepth: s.sp.MaxDepth}
	return nil
}

// xmlnsIs reports whether the first start tag of raw declares the default
// namespace ns.
func xmlnsIs(raw []byte, ns string) bool {
	se, err := StartTag(raw)
	if err != nil {
		return false
	}
	for _, a := range se.Attr {
		if a.Name.Space == "" && a.Name.Local == "xmlns" {
			return a.Value == ns
		}
	}
	return false
}
