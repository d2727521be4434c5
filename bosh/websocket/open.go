package websocket

import (
	"boshd/xmppconn"
)

// Open is what the client said in its <open/> (RFC 7395 §3.3.2), the
// WebSocket form of a stream header (RFC 6120 §4.7).
type Open struct {
	To, From, Lang, Version string
}

// parseOpen reads an <open/> message's attributes.
func parseOpen(m Message) Open {
	o := Open{To: m.Get("to"), From: m.Get("from"), Version: m.Get("version")}
	for _, a := range m.Attr {
		if a.Name.Space == "http://www.w3.org/XML/1998/namespace" && a.Name.Local == "lang" {
			o.Lang = a.Value
		}
	}
	if o.Version == "" {
		// RFC 7395 §3.3.2 makes version='1.0' mandatory; a client that
		// forgot it still means XMPP 1.0, the only version with SASL.
		o.Version = "1.0"
	}
	return o
}

// appendOpen appends the <open/> that stands for the server's stream header
// h (RFC 7395 §3.3.2): its from, id, version and xml:lang, in the framing
// namespace, as an empty element.
func appendOpen(dst []byte, h xmppconn.Header) []byte {
	dst = append(dst, "<open xmlns='"+NSFraming+"'"...)
	if h.From != "" {
		dst = xmppconn.AppendAttr(dst, "from", h.From)
	}
	if h.ID != "" {
		dst = xmppconn.AppendAttr(dst, "id", h.ID)
	}
	if h.Version != "" {
		dst = xmppconn.AppendAttr(dst, "version", h.Version)
	}
	if h.Lang != "" {
		dst = xmppconn.AppendAttr(dst, "xml:lang", h.Lang)
	}
	return append(dst, "/>"...)
}

// appendClose appends the <close/> that ends the stream (RFC 7395 §3.6).
// With seeOtherURI, it tells the client to reconnect to that WebSocket URI
// instead (§3.6.1), as a server that is going away does.
func appendClose(dst []byte, seeOtherURI string) []byte {
	dst = append(dst, "<close xmlns='"+NSFraming+"'"...)
	if seeOtherURI != "" {
		dst = xmppconn.AppendAttr(dst, "see-other-uri", seeOtherURI)
	}
	return append(dst, "/>"...)
}
