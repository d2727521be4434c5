package main

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	ws "github.com/coder/websocket"
	"mellium.im/sasl"

	"boshd/bosh/client"
)

// session is what the load phases need of one client session, over BOSH
// (client.Session) or WebSocket (wsSession).
type session interface {
	// Send sends one stanza.
	Send(ctx context.Context, stanza ...[]byte) error
	// Run receives stanzas until the session ends or Close is called
	// (then it returns client.ErrClosed).
	Run(ctx context.Context) error
	// Close sends final stanzas and ends the session.
	Close(ctx context.Context, final ...[]byte) error
	// bareJID is the bound JID.
	boundJID() string
}

// boshSession adapts client.Session.
type boshSession struct{ *client.Session }

func (s boshSession) boundJID() string { return s.JID }

// nsFraming qualifies RFC 7395 <open/> and <close/>.
const nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// wsSession is one RFC 7395 session: a WebSocket in the 'xmpp'
// subprotocol, one element per message. After login, Run reads every
// message (which also answers the server's pings) and hands stanzas to
// onStanza.
type wsSession struct {
	conn     *ws.Conn
	jid      string
	onStanza func([]byte)
	closed   atomic.Bool
}

// dialWS opens a WebSocket session to url and logs in as a browser client
// does (RFC 7395 §3.3-3.5): <open/>, SASL PLAIN, a new <open/> after
// success, resource binding.
func dialWS(ctx context.Context, url, domain, user, pass, resource string, onStanza func([]byte)) (*wsSession, error) {
	c, _, err := ws.Dial(ctx, url, &ws.DialOptions{Subprotocols: []string{"xmpp"}})
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	c.SetReadLimit(1 << 20)
	s := &wsSession{conn: c, onStanza: onStanza}
	if err := s.login(ctx, domain, user, pass, resource); err != nil {
		c.CloseNow()
		return nil, err
	}
	return s, nil
}

func (s *wsSession) boundJID() string { return s.jid }

func (s *wsSession) write(ctx context.Context, msg string) error {
	return s.conn.Write(ctx, ws.MessageText, []byte(msg))
}

// await reads messages until one whose start contains want; stanzas read
// meanwhile go to onStanza.
func (s *wsSession) await(ctx context.Context, want string) (string, error) {
	for {
		_, p, err := s.conn.Read(ctx)
		if err != nil {
			return "", fmt.Errorf("websocket: waiting for %s: %w", want, err)
		}
		m := string(p)
		if strings.Contains(m, "<stream:error") {
			return "", fmt.Errorf("websocket: stream error: %.200s", m)
		}
		if strings.Contains(m, want) {
			return m, nil
		}
		s.onStanza(p)
	}
}

func (s *wsSession) open(ctx context.Context, domain string) (string, error) {
	if err := s.write(ctx, "<open xmlns='"+nsFraming+"' to='"+domain+"' version='1.0'/>"); err != nil {
		return "", err
	}
	if _, err := s.await(ctx, "<open "); err != nil {
		return "", err
	}
	return s.await(ctx, "features")
}

func (s *wsSession) login(ctx context.Context, domain, user, pass, resource string) error {
	if _, err := s.open(ctx, domain); err != nil {
		return err
	}
	neg := sasl.NewClient(sasl.Plain, sasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(user), []byte(pass), nil }))
	_, resp, err := neg.Step(nil)
	if err != nil {
		return err
	}
	if err := s.write(ctx, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+base64.StdEncoding.EncodeToString(resp)+"</auth>"); err != nil {
		return err
	}
	m, err := s.await(ctx, "urn:ietf:params:xml:ns:xmpp-sasl")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(m, "<success") {
		return fmt.Errorf("websocket: login %s: %.200s", user, m)
	}
	if _, err := s.open(ctx, domain); err != nil {
		return err
	}
	bind := "<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind></iq>"
	if err := s.write(ctx, bind); err != nil {
		return err
	}
	m, err = s.await(ctx, "id='bind1'")
	if err != nil {
		return err
	}
	var iq struct {
		Type string `xml:"type,attr"`
		JID  string `xml:"bind>jid"`
	}
	if err := xml.Unmarshal([]byte(m), &iq); err != nil || iq.Type != "result" || iq.JID == "" {
		return fmt.Errorf("websocket: bind: %.200s", m)
	}
	s.jid = strings.TrimSpace(iq.JID)
	return nil
}

// Send writes each stanza as one message.
func (s *wsSession) Send(ctx context.Context, stanzas ...[]byte) error {
	for _, st := range stanzas {
		if err := s.conn.Write(ctx, ws.MessageText, st); err != nil {
			return err
		}
	}
	return nil
}

// Run reads until the connection ends.
func (s *wsSession) Run(ctx context.Context) error {
	for {
		_, p, err := s.conn.Read(ctx)
		if err != nil {
			if s.closed.Load() {
				return client.ErrClosed
			}
			return err
		}
		s.onStanza(p)
	}
}

// Close sends final stanzas and <close/> (RFC 7395 §3.6) and closes the
// WebSocket; the server's <close/> is read by Run.
func (s *wsSession) Close(ctx context.Context, final ...[]byte) error {
	s.closed.Store(true)
	err := s.Send(ctx, final...)
	if err == nil {
		err = s.write(ctx, "<close xmlns='"+nsFraming+"'/>")
	}
	if cerr := s.conn.Close(ws.StatusNormalClosure, ""); err == nil && cerr != nil && !errors.Is(cerr, context.Canceled) {
		err = cerr
	}
	return err
}
