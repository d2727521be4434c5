package servers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"

	"mellium.im/sasl"
)

// Namespaces of the raw client exchanges in these tests.
const (
	nsTLS  = "urn:ietf:params:xml:ns:xmpp-tls"  // RFC 6120 §5.4
	nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl" // RFC 6120 §6.4
)

// mechanisms lists the SASL mechanisms in stream features.
func mechanisms(features *element) []string {
	m := features.child(nsSASL, "mechanisms")
	if m == nil {
		return nil
	}
	var out []string
	for _, c := range m.Children {
		if c.XMLName.Local == "mechanism" {
			out = append(out, c.Text)
		}
	}
	return out
}

// startTLS negotiates STARTTLS (RFC 6120 §5.4.2) on an opened stream,
// verifying the server certificate against caFile for serverName, and
// returns the features of the restarted stream.
func (r *rawStream) startTLS(domain, serverName, caFile string) (*element, error) {
	pemData, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, errors.New("no certificate in CA file")
	}
	if err := r.send("<starttls xmlns='" + nsTLS + "'/>"); err != nil {
		return nil, err
	}
	e, err := r.next()
	if err != nil {
		return nil, err
	}
	if e.XMLName.Space != nsTLS || e.XMLName.Local != "proceed" {
		return nil, fmt.Errorf("expected <proceed/>, got <%s xmlns=%q>", e.XMLName.Local, e.XMLName.Space)
	}
	tc := tls.Client(r.conn, &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12})
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	r.conn = tc
	return r.open(domain)
}

// authenticate runs SASL (RFC 6120 §6.4) with mechanism mech ("PLAIN" or
// "SCRAM-SHA-1") on an opened stream and returns nil on <success/>.
func (r *rawStream) authenticate(features *element, mech, user, pass string) error {
	if !slices.Contains(mechanisms(features), mech) {
		return fmt.Errorf("%s not offered (offered: %v)", mech, mechanisms(features))
	}
	var m sasl.Mechanism
	switch mech {
	case "PLAIN":
		m = sasl.Plain
	case "SCRAM-SHA-1":
		m = sasl.ScramSha1
	default:
		return fmt.Errorf("mechanism %s not supported by the test", mech)
	}
	c := sasl.NewClient(m, sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(user), []byte(pass), nil
	}))
	_, resp, err := c.Step(nil)
	if err != nil {
		return err
	}
	if err := r.send(fmt.Sprintf("<auth xmlns='%s' mechanism='%s'>%s</auth>", nsSASL, mech, b64(resp))); err != nil {
		return err
	}
	for {
		e, err := r.next()
		if err != nil {
			return err
		}
		if e.XMLName.Space != nsSASL {
			return fmt.Errorf("unexpected <%s xmlns=%q> during SASL", e.XMLName.Local, e.XMLName.Space)
		}
		switch e.XMLName.Local {
		case "challenge":
			data, err := base64.StdEncoding.DecodeString(e.Text)
			if err != nil {
				return err
			}
			if _, resp, err = c.Step(data); err != nil {
				return err
			}
			if err := r.send(fmt.Sprintf("<response xmlns='%s'>%s</response>", nsSASL, b64(resp))); err != nil {
				return err
			}
		case "success":
			if mech == "PLAIN" {
				return nil
			}
			// SCRAM: the additional data carries the server signature,
			// which the client must verify (RFC 5802 §5.1).
			data, err := base64.StdEncoding.DecodeString(e.Text)
			if err != nil {
				return err
			}
			if _, _, err := c.Step(data); err != nil {
				return fmt.Errorf("server signature: %w", err)
			}
			return nil
		case "failure":
			cond := "?"
			if len(e.Children) > 0 {
				cond = e.Children[0].XMLName.Local
			}
			return fmt.Errorf("%w: <%s/>", errAuthFailed, cond)
		default:
			return fmt.Errorf("unexpected <%s/> during SASL", e.XMLName.Local)
		}
	}
}

var errAuthFailed = errors.New("SASL failure")

func b64(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// login opens a stream to s (with STARTTLS when s has a CA), authenticates
// with mech and closes the stream.
func login(ctx context.Context, s *Server, mech, user, pass string) error {
	r, err := dialRaw(ctx, s.Addr)
	if err != nil {
		return err
	}
	defer r.close()
	f, err := r.open(s.Domain)
	if err != nil {
		return err
	}
	if s.CAFile != "" {
		if f, err = r.startTLS(s.Domain, s.Domain, s.CAFile); err != nil {
			return err
		}
	}
	return r.authenticate(f, mech, user, pass)
}
