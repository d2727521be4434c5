package xmppconn

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

// clientFeatures returns a <stream:features/> element without what the
// client of a connection manager cannot use, byte-exact otherwise, and
// whether STARTTLS was offered:
//
//   - the STARTTLS feature (RFC 6120 §5.4.1): the client cannot negotiate
//     TLS on the upstream connection, so it must not see the offer
//     (XEP-0206 §4);
//   - SASL mechanisms with channel binding (SCRAM-*-PLUS, RFC 5802 §6):
//     the client's TLS channel is not the upstream one, so binding to it
//     can never succeed, and a client that supports binding would read the
//     offer as a downgrade attack when it cannot use it.
func clientFeatures(features []byte) (rest []byte, offered bool, err error) {
	d := xml.NewDecoder(bytes.NewReader(features))
	type cut struct{ from, to int64 }
	var cuts []cut
	depth := 0
	inMechanisms := false
	for {
		before := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return nil, false, fmt.Errorf("stream features: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 2 && t.Name.Local == "starttls" && t.Name.Space == NSTLS:
				if err := d.Skip(); err != nil {
					return nil, false, fmt.Errorf("stream features: %w", err)
				}
				depth--
				offered = true
				cuts = append(cuts, cut{before, d.InputOffset()})
			case depth == 2 && t.Name.Local == "mechanisms" && t.Name.Space == NSSASL:
				inMechanisms = true
			case depth == 3 && inMechanisms && t.Name.Local == "mechanism":
				var name string
				if err := d.DecodeElement(&name, &t); err != nil {
					return nil, false, fmt.Errorf("stream features: %w", err)
				}
				depth--
				if strings.HasSuffix(strings.TrimSpace(name), "-PLUS") {
					cuts = append(cuts, cut{before, d.InputOffset()})
				}
			}
		case xml.EndElement:
			depth--
			if depth == 1 {
				inMechanisms = false
			}
			if depth == 0 {
				if len(cuts) == 0 {
					return features, offered, nil
				}
				rest = make([]byte, 0, len(features))
				last := int64(0)
				for _, c := range cuts {
					rest = append(rest, features[last:c.from]...)
					last = c.to
				}
				return append(rest, features[last:]...), offered, nil
			}
		}
	}
}
