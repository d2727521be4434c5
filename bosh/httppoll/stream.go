package httppoll

import (
	"encoding/xml"

	"boshd/xmppconn"
)

// Namespaces of the client's stream that boshd looks at.
const (
	nsStreams      = "http://etherx.jabber.org/streams"    // RFC 6120 §4.8.1
	nsStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams" // RFC 6120 §4.9.2
	nsTLS          = "urn:ietf:params:xml:ns:xmpp-tls"     // RFC 6120 §5.4
	nsCompress     = "http://jabber.org/protocol/compress" // XEP-0138
	nsClient       = "jabber:client"                       // RFC 6120 §4.8.3
)

// qualifiedName returns the prefixed name of a start tag ("stream:stream").
func qualifiedName(s xml.StartElement) string {
	if s.Name.Space == "" {
		return s.Name.Local
	}
	return s.Name.Space + ":" + s.Name.Local
}

// defaultNS returns the default namespace a start tag declares, if any.
func defaultNS(s xml.StartElement) string {
	for _, a := range s.Attr {
		if a.Name.Space == "" && a.Name.Local == "xmlns" {
			return a.Value
		}
	}
	return ""
}

// is reports whether a top-level element the client sent is local in
// namespace ns. Top-level elements of a client stream carry their
// namespace on themselves (or inherit jabber:client from the header).
func is(raw []byte, name, local, ns string) bool {
	if name != local {
		return false
	}
	s, err := xmppconn.StartTag(raw)
	if err != nil || s.Name.Space != "" {
		return false
	}
	return defaultNS(s) == ns
}

// endTag returns the closing tag matching the server's stream header, so
// that the client's XML parser sees the stream it was given end (RFC 6120
// §4.4).
func endTag(serverHeader []byte) []byte {
	name := "stream:stream"
	if s, err := xmppconn.StartTag(serverHeader); err == nil {
		name = qualifiedName(s)
	}
	return []byte("</" + name + ">")
}

// appendStreamError appends an RFC 6120 §4.9 stream error with a
// descriptive text (xmppconn.AppendStreamError).
func appendStreamError(dst []byte, condition, text string) []byte {
	return xmppconn.AppendStreamError(dst, condition, text)
}

// refusalDocument is a whole stream that only says why there is none: a
// header, a stream error and the end (RFC 6120 §4.9.1.2: an error at stream
// setup is still sent after a header). It is the body of an error answer
// to a client that has not been sent a header yet.
func refusalDocument(condition, text string) []byte {
	return errorDocument(appendStreamError(nil, condition, text))
}

// errorDocument wraps a <stream:error/> (boshd's, or the server's own when
// it refused the stream) in a stream header and end.
func errorDocument(streamError []byte) []byte {
	b := []byte("<?xml version='1.0'?><stream:stream xmlns='" + nsClient + "' xmlns:stream='" + nsStreams + "' version='1.0'>")
	b = append(b, streamError...)
	return append(b, "</stream:stream>"...)
}

// Answers boshd gives itself to requests it must not forward (see doc.go).
var (
	// RFC 6120 §5.4.2.2: TLS cannot be negotiated through boshd; the
	// stream ends after the failure.
	tlsFailure = []byte("<failure xmlns='" + nsTLS + "'/>")
	// XEP-0138 §3: compression would hide the stream from boshd; the
	// client goes on uncompressed.
	compressFailure = []byte("<failure xmlns='" + nsCompress + "'><setup-failed/></failure>")
)
