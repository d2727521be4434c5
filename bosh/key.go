package bosh

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
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

// checkKey is the key step of a request processed in rid order (§15.4): in
// a session with key sequencing, the request's key must hash to the last
// one; newkey starts a new sequence (§15.5). A request that fails it ends
// the session with item-not-found and is not processed. Called with s.mu
// held; false means the session has ended.
func (s *Session) checkKey(r *request) bool {
	b := r.body
	if s.key != "" {
		k, ok := b.Get("key")
		if !ok || !keyMatches(k, s.key) {
			s.end(ItemNotFound, errors.New("key sequence broken"), r)
			return false
		}
		s.key = k
	}
	if nk, ok := b.Get("newkey"); ok {
		s.key = nk
	}
	return true
}

// copyAllowed is the key check of a retransmission (§14.3 with §15): a
// copy of a request, answered from the cache or taking an open request's
// place, must carry the original's keys; one that does not ends the
// session with item-not-found. Called with s.mu held.
func (s *Session) copyAllowed(r *request, orig keyAttrs) bool {
	if s.sameKeys(orig, r.body) {
		return true
	}
	s.end(ItemNotFound, fmt.Errorf("repeated rid %d without the original's key", r.rid), r)
	return false
}
