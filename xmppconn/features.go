package xmppconn

import (
	"bytes"
	"encoding/xml"
	"fmt"
)

// removeStartTLS looks for the STARTTLS feature (RFC 6120 §5.4.1) among
// the children of a <stream:features/> element and returns the element
// without it, byte-exact otherwise: the client of a connection manager
// cannot negotiate TLS on the upstream connection, so it must not see the
// offer (XEP-0206 §4).
func removeStartTLS(features []byte) (rest []byte, offered bool, err error) {
	d := xml.NewDecoder(bytes.NewReader(features))
	depth := 0
	for {
		before := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return nil, false, fmt.Errorf("stream features: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && t.Name.Local == "starttls" && t.Name.Space == nsTLS {
				if err := d.Skip(); err != nil {
					return nil, false, fmt.Errorf("stream features: %w", err)
				}
				after := d.InputOffset()
				rest = make([]byte, 0, len(features)-int(after-before))
				rest = append(rest, features[:before]...)
				rest = append(rest, features[after:]...)
				return rest, true, nil
			}
		case xml.EndElement:
			depth--
			if depth == 0 {
				return features, false, nil
			}
		}
	}
}
