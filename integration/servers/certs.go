package servers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files written by WriteCerts into its directory.
const (
	caCertFile     = "ca.pem"
	serverCertFile = "server.crt"
	serverKeyFile  = "server.key"
	serverPEMFile  = "server.pem" // certificate chain and key, for ejabberd
)

// CertFiles names the PEM files WriteCerts wrote.
type CertFiles struct {
	CA   string // the CA certificate, for a client's trust store
	Cert string // the server certificate followed by the CA's
	Key  string // the server's private key (PKCS #8)
}

// WriteCerts generates a CA and a server certificate for domain signed by
// it (RFC 6125 §6.4: the domain is a DNS subjectAltName, which is what a
// client's server-name check looks at; 127.0.0.1 is added as an IP SAN) and
// writes them as PEM into dir, with a combined chain-and-key file for
// ejabberd.
func WriteCerts(dir, domain string) (CertFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return CertFiles{}, fmt.Errorf("certificates: %w", err)
	}
	now := time.Now()

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CertFiles{}, fmt.Errorf("certificates: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "boshd test CA for " + domain},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return CertFiles{}, fmt.Errorf("certificates: create CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return CertFiles{}, fmt.Errorf("certificates: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CertFiles{}, fmt.Errorf("certificates: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: domain},
		DNSNames:     []string{domain},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return CertFiles{}, fmt.Errorf("certificates: create server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return CertFiles{}, fmt.Errorf("certificates: %w", err)
	}

	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{caCertFile, caPEM, 0o644},
		{serverCertFile, append(append([]byte{}, certPEM...), caPEM...), 0o644},
		{serverKeyFile, keyPEM, 0o600},
		{serverPEMFile, append(append(append([]byte{}, certPEM...), caPEM...), keyPEM...), 0o600},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return CertFiles{}, fmt.Errorf("certificates: %w", err)
		}
	}
	return CertFiles{CA: filepath.Join(dir, caCertFile), Cert: filepath.Join(dir, serverCertFile), Key: filepath.Join(dir, serverKeyFile)}, nil
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return n
}
