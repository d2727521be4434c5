// Package xmppconn is one upstream XMPP client-to-server stream (RFC 6120),
// as a connection manager relays it: it opens the stream and secures it,
// then hands over every top-level element the server sends, byte-exact,
// and writes the client's elements unchanged.
//
// The protocol idea: an XMPP stream is one long XML document per
// direction. Its root, <stream:stream> (RFC 6120 §4.2), is opened once and
// closed at the very end; everything in between is a sequence of
// top-level elements — stanzas, <stream:features/>, SASL elements,
// <stream:error/>. A connection manager (XEP-0124, XEP-0206) does not
// authenticate or bind a resource itself: the client does that through
// it. So this package negotiates only what the hop to the server needs —
// the TCP connection, the stream header and STARTTLS (RFC 6120 §5) — and
// gives the client the server's <stream:features/> with the STARTTLS offer
// removed (XEP-0206 §4). When the client restarts the stream after SASL
// (RFC 6120 §4.3.3, XEP-0206 §5), a new header is sent over the same
// connection and the server answers with a new header and features, which
// the reader yields like any other element.
//
// Which function to call:
//
//   - [Dialer.Open] connects (configured routes, or DNS SRV through
//     mellium.im/xmpp/dial), sends the header, negotiates STARTTLS per
//     [TLSPolicy] and returns a [Stream] once the features are in; a
//     <stream:error/> from the server comes back as a [*StreamError].
//   - [Stream.Next], from one reader goroutine, returns the next
//     [Element]: stanzas, a [KindHeader] and [KindFeatures] after
//     [Stream.Restart], and finally [KindError] or [KindEnd] followed by an
//     error.
//   - [Stream.TryNext] is Next without waiting on a plain TCP stream;
//     with a [Poller] (one per process, epoll on Linux) telling when bytes
//     arrive, an idle stream needs no goroutine of its own.
//   - [Stream.Send] writes the client's elements; [Stream.Close] ends the
//     stream politely and unblocks the reader.
//   - [Splitter] is the incremental scanner under Next, usable on its own
//     for any byte stream that must be cut into top-level elements (the
//     XEP-0025 front end feeds it the client's raw bytes).
//
// Stanzas are never re-encoded: re-encoding with encoding/xml duplicates
// namespace declarations and loses prefixes. The Splitter cuts the
// original bytes instead, enforcing its own limits on element size and
// nesting depth, and reports ErrTooLarge or ErrTooDeep (a policy
// violation, RFC 6120 §4.9.3.14) apart from ErrNotWellFormed (RFC 6120
// §4.9.3.13). It also checks the characters and references a strict XML
// parser requires (XML 1.0 §2.2, §4.1), so what it returns is well-formed
// whichever way it is relayed; [Condition], [Fault] and
// [AppendStreamError] make the stream error a front end gives its client
// when the server broke those rules.
package xmppconn
