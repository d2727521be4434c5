package servers

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"time"
)

// Namespaces of the raw exchange (RFC 6120 §4.8).
const (
	nsStreams = "http://etherx.jabber.org/streams"
	nsClient  = "jabber:client"
)

// element is any XML element, decoded generically.
type element struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []element  `xml:",any"`
	Text     string     `xml:",chardata"`
}

// child returns the first child with the given namespace and local name.
func (e *element) child(space, local string) *element {
	for i := range e.Children {
		c := &e.Children[i]
		if c.XMLName.Space == space && c.XMLName.Local == local {
			return c
		}
	}
	return nil
}

// rawStream is a minimal client side of an XMPP stream: enough to see the
// features, negotiate STARTTLS and SASL, without any XMPP library, so the
// harness checks the servers independently of the code under test.
type rawStream struct {
	conn net.Conn
	dec  *xml.Decoder
}

// dialRaw connects to addr; the connection's deadline follows ctx.
func dialRaw(ctx context.Context, addr string) (*rawStream, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	return &rawStream{conn: c}, nil
}

// open sends a stream header to domain (RFC 6120 §4.2), reads the
// server's header and the stream features (§4.3.2) and returns them.
func (r *rawStream) open(domain string) (*element, error) {
	_, err := fmt.Fprintf(r.conn, "<?xml version='1.0'?><stream:stream to='%s' version='1.0' xmlns='%s' xmlns:stream='%s'>",
		xmlEscape(domain), nsClient, nsStreams)
	if err != nil {
		return nil, fmt.Errorf("send stream header: %w", err)
	}
	r.dec = xml.NewDecoder(r.conn)
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read stream header: %w", err)
		}
		if st, ok := tok.(xml.StartElement); ok {
			if st.Name.Space != nsStreams || st.Name.Local != "stream" {
				return nil, fmt.Errorf("expected <stream:stream>, got <%s xmlns=%q>", st.Name.Local, st.Name.Space)
			}
			break
		}
	}
	f, err := r.next()
	if err != nil {
		return nil, err
	}
	if f.XMLName.Space != nsStreams || f.XMLName.Local != "features" {
		return nil, fmt.Errorf("expected <stream:features/>, got <%s xmlns=%q>", f.XMLName.Local, f.XMLName.Space)
	}
	return f, nil
}

// next reads the next top-level element of the stream.
func (r *rawStream) next() (*element, error) {
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read element: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var e element
			if err := r.dec.DecodeElement(&e, &t); err != nil {
				return nil, fmt.Errorf("read <%s>: %w", t.Name.Local, err)
			}
			return &e, nil
		case xml.EndElement:
			return nil, errors.New("server closed the stream")
		}
	}
}

// send writes raw XML.
func (r *rawStream) send(s string) error {
	_, err := r.conn.Write([]byte(s))
	return err
}

// close ends the stream politely and closes the connection.
func (r *rawStream) close() {
	r.conn.SetWriteDeadline(time.Now().Add(time.Second))
	r.send("</stream:stream>")
	r.conn.Close()
}

// probeFeatures opens a stream to addr for domain and returns its
// features: the readiness check for both servers.
func probeFeatures(ctx context.Context, addr, domain string) (*element, error) {
	r, err := dialRaw(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.open(domain)
}

// xmlEscape escapes s for an XML attribute or text.
func xmlEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '\'':
			b = append(b, "&apos;"...)
		case '"':
			b = append(b, "&quot;"...)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
