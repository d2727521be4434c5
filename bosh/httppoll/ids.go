package httppoll

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// The error identifiers of XEP-0025 §3.1, sent in the ID cookie in place
// of a session identifier. Each means, to the client, that the session it
// had is no longer usable.
const (
	// IDUnknown (§3.1.1 Unknown Error) answers a request for a session that
	// does not exist or has ended (§3: timed out sessions "must return an
	// error of '0:0'"), and a stream boshd may not open (domain not served).
	IDUnknown = "0:0"
	// IDServerError (§3.1.2) answers when boshd cannot serve the session:
	// the upstream server cannot be reached, a session limit is reached,
	// boshd is stopping, or an internal error.
	IDServerError = "-1:0"
	// IDBadRequest (§3.1.3) answers a body that does not follow the request
	// grammar, or xml that is not a well-formed XMPP stream.
	IDBadRequest = "-2:0"
	// IDKeySequence (§3.1.4) answers a request whose key does not hash to
	// the previous one. Per §4 such a request is not processed and does not
	// extend the session's keep-alive.
	IDKeySequence = "-3:0"
)

// wireID turns a registry ID (URL-safe Base64 of 128 random bits, see
// relay.NewID, after "NODE." when the registry names its node) into a
// session identifier made of the characters XEP-0025 §3 allows
// ([A-Za-z0-9:-]; '_' and '.' are not among them): the same bits in hex,
// after "NODE:" when there is a node. ':' is the separator because a node
// name ([a-z0-9-]) never contains it, so "ID=n1:" names node n1 and no
// other, and because a 32-digit hex part never makes the identifier end in
// ":0", which would read as an error.
func wireID(regID string) string {
	node, random := "", regID
	if i := strings.LastIndexByte(regID, '.'); i >= 0 {
		node, random = regID[:i]+":", regID[i+1:]
	}
	b, err := base64.RawURLEncoding.DecodeString(random)
	if err != nil {
		// Not a registry ID; never happens. Hex of the text still obeys
		// the character set.
		return hex.EncodeToString([]byte(regID))
	}
	return node + hex.EncodeToString(b)
}

// registryID reverses wireID; ok is false for an identifier boshd cannot
// have issued.
func registryID(id string) (string, bool) {
	node, random := "", id
	if i := strings.IndexByte(id, ':'); i >= 0 {
		node, random = id[:i], id[i+1:]
		if node == "" || strings.Trim(node, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return "", false
		}
		node += "."
	}
	b, err := hex.DecodeString(random)
	if err != nil || len(b) != 16 {
		return "", false
	}
	return node + base64.RawURLEncoding.EncodeToString(b), true
}
