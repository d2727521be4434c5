package httppoll

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrBadRequest is returned by [ParseRequest] for a body that does not
// follow the XEP-0025 §3 grammar; the client is answered with [IDBadRequest].
var ErrBadRequest = errors.New("httppoll: bad request")

// Longest identifier and key accepted. boshd's own identifiers have 32
// characters and Base64(SHA-1) keys 28; a client-chosen seed sent as K(0)
// may be longer, but not without bound.
const (
	maxIdentifier = 64
	maxKey        = 256
)

// Request is one parsed XEP-0025 request body (§3):
//
//	identifier ; key [ ; new_key ] , [xml_body]
//
// The identifier is everything before the first ';' (or ',' when there is
// no key), the xml_body everything after the first ','. Neither part is
// form-decoded, although the Content-Type says form data (§3).
type Request struct {
	// ID is the session identifier; "0" opens a session.
	ID string
	// Key is K(n) of the client's key sequence, "" when the request has
	// none (§4: keys are optional).
	Key string
	// NewKey starts a new key sequence (§4); "" when absent. Ignored on a
	// request with ID "0" (§3: "must be ignored").
	NewKey string
	// XML is the raw stream bytes the client sends: not necessarily whole
	// elements (§3, "No framing is implied"). It aliases the body.
	XML []byte
}

// ParseRequest parses a request body. It checks the identifier's
// characters ([A-Za-z0-9:-], §3) and that keys are non-empty printable
// ASCII without ';' or ','; the xml part is returned unchecked (it is
// checked as a stream, across requests, by the session).
func ParseRequest(body []byte) (Request, error) {
	comma := bytes.IndexByte(body, ',')
	if comma < 0 {
		return Request{}, fmt.Errorf("%w: no ',' after the identifier", ErrBadRequest)
	}
	head, xml := body[:comma], body[comma+1:]
	var r Request
	id, rest, hasKey := bytes.Cut(head, []byte{';'})
	if err := checkIdentifier(id); err != nil {
		return Request{}, err
	}
	r.ID = string(id)
	if hasKey {
		key, newKey, hasNew := bytes.Cut(rest, []byte{';'})
		if err := checkKey("key", key); err != nil {
			return Request{}, err
		}
		r.Key = string(key)
		if hasNew {
			if err := checkKey("new_key", newKey); err != nil {
				return Request{}, err
			}
			r.NewKey = string(newKey)
		}
	}
	r.XML = xml
	return r, nil
}

// AppendRequest appends r in the wire form ParseRequest reads; a client
// writes its requests with it.
func AppendRequest(dst []byte, r Request) []byte {
	dst = append(dst, r.ID...)
	if r.Key != "" {
		dst = append(dst, ';')
		dst = append(dst, r.Key...)
		if r.NewKey != "" {
			dst = append(dst, ';')
			dst = append(dst, r.NewKey...)
		}
	}
	dst = append(dst, ',')
	return append(dst, r.XML...)
}

func checkIdentifier(id []byte) error {
	if len(id) == 0 || len(id) > maxIdentifier {
		return fmt.Errorf("%w: identifier of %d bytes", ErrBadRequest, len(id))
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == ':' || c == '-') {
			return fmt.Errorf("%w: identifier %q has a character outside [A-Za-z0-9:-]", ErrBadRequest, id)
		}
	}
	return nil
}

func checkKey(what string, k []byte) error {
	if len(k) == 0 || len(k) > maxKey {
		return fmt.Errorf("%w: %s of %d bytes", ErrBadRequest, what, len(k))
	}
	for _, c := range k {
		if c <= ' ' || c >= 0x7f || c == ';' || c == ',' {
			return fmt.Errorf("%w: %s has a byte %#x that is not printable ASCII", ErrBadRequest, what, c)
		}
	}
	return nil
}
