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

// keyAttrs is what a request carries of key sequencing (§15.4, §15.5). A
// resent request is an exact copy of the original (§14.3, §17.3), so it
// carries the same.
type keyAttrs struct {
	key, newKey string
}

func keysOf(b *Body) keyAttrs {
	k, _ := b.Get("key")
	nk, _ := b.Get("newkey")
	return keyAttrs{key: k, newKey: nk}
}

// sameKeys reports whether b may stand for the request that carried orig:
// always in a session without key sequencing, otherwise only when it
// carries the same keys. Without this check anyone who learnt a sid and a
// rid could take a held or cached answer by resending that rid with no
// key, which is the injection §15 exists to stop. Called with s.mu held.
func (s *Session) sameKeys(orig keyAttrs, b *Body) bool {
	return s.key == "" || keysOf(b) == orig
}
