package bosh

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// keyMatches reports whether key is the predecessor of want in a key
// sequence: hex(SHA-1(key)) equals want, compared case-insensitively
// (XEP-0124 §15.3, §15.4).
func keyMatches(key, want string) bool {
	sum := sha1.Sum([]byte(key))
	return strings.EqualFold(hex.EncodeToString(sum[:]), want)
}
