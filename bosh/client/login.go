package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"

	"mellium.im/sasl"
)

// Login authenticates and binds a resource over the session, as XEP-0206
// §5 describes: SASL with mechanism ("PLAIN", "SCRAM-SHA-1" or
// "SCRAM-SHA-256"; "" means SCRAM-SHA-1) (RFC 6120 §6), a stream restart
// (a request with xmpp:restart='true' and no payload, after which the CM
// forwards the new features), resource binding (RFC 6120 §7; resource ""
// lets the server choose) and, when the server offers it as mandatory, the
// legacy session establishment (RFC 3921 §3). It sets s.Features and
// s.JID. Stanzas that arrive meanwhile go to the receive path. Call it
// once, after Connect and before Run.
func (s *Session) Login(ctx context.Context, user, pass, mechanism, resource string) error {
	j, err := s.login(ctx, "", user, pass, mechanism, resource)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.JID = j
	s.mu.Unlock()
	return nil
}

// LoginStream is Login on the stream named stream, added with AddStream
// (XEP-0124 §16): every request of the login names the stream, the
// restart too, and the answers of that stream are the ones it reads. It
// returns the bound JID; the stream's latest features are StreamFeatures.
// Like Login, it is a sequential tool: call it before Run.
func (s *Session) LoginStream(ctx context.Context, stream, user, pass, mechanism, resource string) (string, error) {
	if stream == "" {
		return "", fmt.Errorf("client: login: no stream name")
	}
	return s.login(ctx, stream, user, pass, mechanism, resource)
}

// login is Login on stream ("" for the session's first stream); it
// returns the bound JID.
func (s *Session) login(ctx context.Context, stream, user, pass, mechanism, resource string) (string, error) {
	// on names the stream in a request's attributes (none for the first).
	on := func(attrs map[string]string) map[string]string {
		if stream == "" {
			return attrs
		}
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs["stream"] = stream
		return attrs
	}
	if mechanism == "" {
		mechanism = "SCRAM-SHA-1"
	}
	var mech sasl.Mechanism
	switch mechanism {
	case "PLAIN":
		mech = sasl.Plain
	case "SCRAM-SHA-1":
		mech = sasl.ScramSha1
	case "SCRAM-SHA-256":
		mech = sasl.ScramSha256
	default:
		return "", fmt.Errorf("client: login: unsupported mechanism %q", mechanism)
	}
	defer func() { s.loginQueue = nil }()

	feats, err := parseElement(s.featuresOf(stream))
	if err != nil {
		return "", fmt.Errorf("client: login: features: %w", err)
	}
	offered := mechanisms(feats)
	if !slices.Contains(offered, mechanism) {
		return "", fmt.Errorf("client: login: server does not offer %s (offers %v)", mechanism, offered)
	}

	// SASL (RFC 6120 §6.4).
	neg := sasl.NewClient(mech,
		sasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(user), []byte(pass), nil }),
		sasl.RemoteMechanisms(offered...))
	more, resp, err := neg.Step(nil)
	if err != nil {
		return "", fmt.Errorf("client: login: %s: %w", mechanism, err)
	}
	auth := []byte("<auth xmlns='" + NSSASL + "' mechanism='" + mechanism + "'>")
	auth = appendSASLData(auth, resp)
	auth = append(auth, "</auth>"...)
	if _, err := s.loginRequest(ctx, on(nil), auth); err != nil {
		return "", fmt.Errorf("client: login: send auth: %w", err)
	}
	for done := false; !done; {
		raw, err := s.awaitLogin(ctx, stream, isSASL)
		if err != nil {
			return "", fmt.Errorf("client: login: %s: %w", mechanism, err)
		}
		el, err := parseElement(raw)
		if err != nil {
			return "", fmt.Errorf("client: login: %w", err)
		}
		data, err := decodeSASLData(el.Text)
		if err != nil {
			return "", fmt.Errorf("client: login: %s: %s: %w", mechanism, el.XMLName.Local, err)
		}
		switch el.XMLName.Local {
		case "challenge":
			if more, resp, err = neg.Step(data); err != nil {
				return "", fmt.Errorf("client: login: %s: %w", mechanism, err)
			}
			r := []byte("<response xmlns='" + NSSASL + "'>")
			r = appendSASLData(r, resp)
			r = append(r, "</response>"...)
			if _, err := s.loginRequest(ctx, on(nil), r); err != nil {
				return "", fmt.Errorf("client: login: send response: %w", err)
			}
		case "success":
			if more {
				// Additional data with success: SCRAM's server signature,
				// which proves the server knows the password (RFC 5802 §5).
				if _, _, err := neg.Step(data); err != nil {
					return "", fmt.Errorf("client: login: %s: verify server: %w", mechanism, err)
				}
			}
			done = true
		case "failure":
			fe := &SASLError{}
			for _, c := range el.Children {
				if c.XMLName.Local == "text" {
					fe.Text = c.Text
				} else if fe.Condition == "" {
					fe.Condition = c.XMLName.Local
				}
			}
			return "", fe
		}
	}

	// Restart (XEP-0206 §5): the CM opens a new stream upstream and sends
	// its features.
	restart := on(map[string]string{"to": s.domainOf(stream), "xml:lang": s.cfg.Lang, "xmpp:restart": "true"})
	if _, err := s.loginRequest(ctx, restart); err != nil {
		return "", fmt.Errorf("client: login: restart: %w", err)
	}
	if _, err := s.awaitLogin(ctx, stream, isFeatures); err != nil {
		return "", fmt.Errorf("client: login: features after restart: %w", err)
	}
	if feats, err = parseElement(s.featuresOf(stream)); err != nil {
		return "", fmt.Errorf("client: login: features after restart: %w", err)
	}

	// Resource binding (RFC 6120 §7).
	if feats.child(NSBind, "bind") == nil {
		return "", fmt.Errorf("client: login: server offers no resource binding")
	}
	bind := []byte("<iq type='set' id='" + bindID + "' xmlns='" + NSClient + "'><bind xmlns='" + NSBind + "'>")
	if resource != "" {
		bind = append(bind, "<resource>"...)
		bind = AppendEscaped(bind, resource)
		bind = append(bind, "</resource>"...)
	}
	bind = append(bind, "</bind></iq>"...)
	res, err := s.iq(ctx, stream, "bind", bindID, bind)
	if err != nil {
		return "", fmt.Errorf("client: login: %w", err)
	}
	j := ""
	if b := res.child(NSBind, "bind"); b != nil {
		if c := b.child("", "jid"); c != nil {
			j = strings.TrimSpace(c.Text)
		}
	}
	if j == "" {
		return "", fmt.Errorf("client: login: bind result without jid")
	}

	// Legacy session establishment, when not marked optional.
	if sess := feats.child(NSSession, "session"); sess != nil && sess.child("", "optional") == nil {
		iq := []byte("<iq type='set' id='" + sessionID + "' xmlns='" + NSClient + "'><session xmlns='" + NSSession + "'/></iq>")
		if _, err := s.iq(ctx, stream, "session", sessionID, iq); err != nil {
			return "", fmt.Errorf("client: login: %w", err)
		}
	}
	return j, nil
}

// Mechanisms returns the SASL mechanisms the latest stream features offer
// (RFC 6120 §6.4.1), in the server's order; nil when there are none or the
// features do not parse.
func (s *Session) Mechanisms() []string {
	s.mu.Lock()
	raw := s.Features
	s.mu.Unlock()
	feats, err := parseElement(raw)
	if err != nil {
		return nil
	}
	return mechanisms(feats)
}

func mechanisms(feats *element) []string {
	var offered []string
	if m := feats.child(NSSASL, "mechanisms"); m != nil {
		for _, c := range m.Children {
			if c.XMLName.Local == "mechanism" {
				offered = append(offered, strings.TrimSpace(c.Text))
			}
		}
	}
	return offered
}

// Ids of the iqs Login sends; answers with these ids are Login's.
const (
	bindID    = "boshc-bind"
	sessionID = "boshc-session"
)

// iq sends an iq and waits for the answer with the same id.
func (s *Session) iq(ctx context.Context, stream, step, id string, iq []byte) (*element, error) {
	var attrs map[string]string
	if stream != "" {
		attrs = map[string]string{"stream": stream}
	}
	if _, err := s.loginRequest(ctx, attrs, iq); err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	raw, err := s.awaitLogin(ctx, stream, func(p []byte) bool { return localName(p) == "iq" && attrOf(p, "id") == id })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	el, err := parseElement(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	switch el.attr("type") {
	case "result":
		return el, nil
	case "error":
		se := &StanzaError{Step: step, Raw: raw}
		if e := el.child("", "error"); e != nil {
			for _, c := range e.Children {
				if c.XMLName.Local != "text" {
					se.Condition = c.XMLName.Local
					break
				}
			}
		}
		return nil, se
	}
	return nil, fmt.Errorf("%s: unexpected answer %s", step, raw)
}

// loginRequest sends one request of the login sequence; the login
// elements of the answer join the login queue, the rest is delivered. It
// returns how many payloads the answer carried.
func (s *Session) loginRequest(ctx context.Context, attrs map[string]string, payloads ...[]byte) (int, error) {
	fl, err := s.begin(payloads, attrs, false)
	if err != nil {
		return 0, err
	}
	b, deliver, err := s.exchange(ctx, fl, isLoginElement)
	s.complete(fl.rid, streamOf(b), deliver)
	if err != nil {
		return 0, err
	}
	s.queueLogin(b, b.Payloads)
	return len(b.Payloads), nil
}

// loginItem is a login element waiting for Login, with the 'stream' of
// the answer that carried it.
type loginItem struct {
	stream string
	p      []byte
}

// queueLogin adds the login elements among payloads, which came in b, to
// the login queue.
func (s *Session) queueLogin(b *Body, payloads [][]byte) {
	for _, p := range payloads {
		if isLoginElement(p) {
			s.loginQueue = append(s.loginQueue, loginItem{streamOf(b), p})
		}
	}
}

// awaitLogin returns the first queued login element that matches, sending
// empty requests until one arrives (XEP-0206 §4: a client without features
// polls). In a polling session an empty answer to an empty request is
// followed by a pause of 'polling' seconds, as in Run (XEP-0124 §12).
// Features also update s.Features.
func (s *Session) awaitLogin(ctx context.Context, stream string, match func([]byte) bool) ([]byte, error) {
	pause := false
	for {
		for i, it := range s.loginQueue {
			if s.sameStream(it.stream, stream) && match(it.p) {
				s.loginQueue = append(s.loginQueue[:i], s.loginQueue[i+1:]...)
				if isFeatures(it.p) {
					s.setFeatures(stream, it.p)
				}
				return it.p, nil
			}
		}
		if pause {
			if err := s.sleep(ctx, s.pollPause()); err != nil {
				return nil, err
			}
		}
		n, err := s.loginRequest(ctx, nil)
		if err != nil {
			return nil, err
		}
		pause = n == 0 && s.Polling()
	}
}

func isFeatures(p []byte) bool { return localName(p) == "features" }

func isSASL(p []byte) bool {
	switch localName(p) {
	case "challenge", "success", "failure":
		return true
	}
	return false
}

func isLoginElement(p []byte) bool {
	if isFeatures(p) || isSASL(p) {
		return true
	}
	if localName(p) != "iq" {
		return false
	}
	id := attrOf(p, "id")
	return id == bindID || id == sessionID
}

func appendSASLData(dst, data []byte) []byte {
	if len(data) == 0 {
		return append(dst, '=') // empty response (RFC 6120 §6.4.2)
	}
	return base64.StdEncoding.AppendEncode(dst, data)
}

func decodeSASLData(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" || text == "=" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(text)
}

// qualifiedName returns the element name of a payload as written
// ("stream:features", "iq").
func qualifiedName(p []byte) []byte {
	if len(p) < 2 || p[0] != '<' {
		return nil
	}
	end := 1
	for end < len(p) && !isSpace(p[end]) && p[end] != '/' && p[end] != '>' {
		end++
	}
	return p[1:end]
}

// localName returns the local part of a payload's element name.
func localName(p []byte) string {
	q := qualifiedName(p)
	if i := bytes.IndexByte(q, ':'); i >= 0 {
		q = q[i+1:]
	}
	return string(q)
}

// attrOf returns an attribute of a payload's start tag, or "".
func attrOf(p []byte, name string) string {
	d := xml.NewDecoder(bytes.NewReader(p))
	tok, err := d.RawToken()
	if err != nil {
		return ""
	}
	if se, ok := tok.(xml.StartElement); ok {
		for _, a := range se.Attr {
			if a.Name.Space == "" && a.Name.Local == name {
				return a.Value
			}
		}
	}
	return ""
}

// element is a small DOM for the few elements Login reads.
type element struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []element  `xml:",any"`
}

// parseElement parses a payload. Prefixes declared on the wrapper (stream:)
// are left unresolved; lookups go by local name and default namespace.
func parseElement(raw []byte) (*element, error) {
	var e element
	if err := xml.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("parse %q: %w", qualifiedName(raw), err)
	}
	return &e, nil
}

// child returns the first child with local name and, when space is not "",
// namespace space.
func (e *element) child(space, local string) *element {
	for i := range e.Children {
		c := &e.Children[i]
		if c.XMLName.Local == local && (space == "" || c.XMLName.Space == space) {
			return c
		}
	}
	return nil
}

func (e *element) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}
