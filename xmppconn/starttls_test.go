package xmppconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

// pki is a certificate authority made up for the tests.
type pki struct {
	pool *x509.CertPool
	ca   *x509.Certificate
	key  *ecdsa.PrivateKey
}

var testPKI = sync.OnceValue(func() *pki {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "xmppconn test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &pki{pool: pool, ca: ca, key: key}
})

// cert issues a server certificate for the DNS names.
func (p *pki) cert(names ...string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestStartTLS(t *testing.T) {
	tests := []struct {
		name       string
		certFor    []string
		serverName string // Dialer.TLSConfig.ServerName
		check      func(t *testing.T, err error)
	}{
		{
			name:    "certificate for the domain",
			certFor: []string{"example.net"},
			check:   func(t *testing.T, err error) { must(t, err) },
		},
		{
			name:       "configured server name",
			certFor:    []string{"xmpp.example.org"},
			serverName: "xmpp.example.org",
			check:      func(t *testing.T, err error) { must(t, err) },
		},
		{
			name:    "wrong server name",
			certFor: []string{"other.example"},
			check: func(t *testing.T, err error) {
				var he x509.HostnameError
				if !errors.As(err, &he) {
					t.Fatalf("error %v, want an x509.HostnameError", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(p *peer) {
				if !p.open("id1", featuresStartTLS) || !p.startTLS(tt.certFor...) {
					return
				}
				if !p.expect(clientOpen) {
					return
				}
				p.send(serverHeader("id2") + featuresSASL)
				if !p.expect("<presence/>") {
					return
				}
				p.send("<message><body>over TLS</body></message>")
				p.drain()
			})
			d := srv.dialer()
			d.TLSConfig.ServerName = tt.serverName
			s, err := d.Open(context.Background(), StreamParams{To: "example.net", Version: "1.0"})
			tt.check(t, err)
			if err != nil {
				if !strings.Contains(err.Error(), "xmppconn: opening stream to example.net at 127.0.0.1:") {
					t.Errorf("error %q does not say which stream", err)
				}
				return
			}
			defer s.Close()
			if !s.Secure() {
				t.Error("Secure() = false after STARTTLS")
			}
			if got := string(s.Features()); got != featuresSASL {
				t.Errorf("features after TLS:\n%s\nwant\n%s", got, featuresSASL)
			}
			if id := s.Header().ID; id != "id2" {
				t.Errorf("header id %q, want the one after TLS, id2", id)
			}
			must(t, s.Send([]byte("<presence/>")))
			el, err := s.Next()
			must(t, err)
			if string(el.Raw) != "<message><body>over TLS</body></message>" {
				t.Errorf("read %q over TLS", el.Raw)
			}
		})
	}
}

// TestStartTLSConfigNotModified checks that the Dialer's TLS config is
// cloned, not filled in, so one Dialer can serve many domains.
func TestStartTLSConfigNotModified(t *testing.T) {
	srv := newServer(t, func(p *peer) {
		if p.open("id1", featuresStartTLS) && p.startTLS("example.net") && p.expect(clientOpen) {
			p.send(serverHeader("id2") + featuresSASL)
			p.drain()
		}
	})
	d := srv.dialer()
	openStream(t, d)
	if d.TLSConfig.ServerName != "" || d.TLSConfig.MinVersion != 0 {
		t.Errorf("Open modified the Dialer's TLSConfig: ServerName %q MinVersion %x", d.TLSConfig.ServerName, d.TLSConfig.MinVersion)
	}
}
