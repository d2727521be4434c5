package client

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
)

// DefaultKeyCount is the length n of a key sequence when Config.KeyCount is
// zero. XEP-0124 §15.5 asks for "a high value"; each key costs 20 bytes of
// memory per session.
const DefaultKeyCount = 64

// KeyChain is a key sequence of XEP-0124 §15.3: K(1) = hex(SHA-1(seed)),
// K(i) = hex(SHA-1(K(i-1))), used from K(n) downwards.
type KeyChain struct {
	digests [][sha1.Size]byte // digests[i-1] is SHA-1 giving K(i)
	next    int               // index (1-based) of the next key to use
}

// NewKeyChain generates a sequence of n keys from seed (XEP-0124 §15.3).
func NewKeyChain(seed []byte, n int) *KeyChain {
	if n < 1 {
		n = 1
	}
	c := &KeyChain{digests: make([][sha1.Size]byte, n), next: n}
	c.digests[0] = sha1.Sum(seed)
	var h [2 * sha1.Size]byte
	for i := 1; i < n; i++ {
		hex.Encode(h[:], c.digests[i-1][:])
		c.digests[i] = sha1.Sum(h[:])
	}
	return c
}

// newRandomKeyChain draws a fresh seed (XEP-0124 §15.5 step 1).
func newRandomKeyChain(n int) *KeyChain {
	seed := make([]byte, 20)
	rand.Read(seed)
	return NewKeyChain(seed, n)
}

// Key returns K(i), 1 ≤ i ≤ n.
func (c *KeyChain) Key(i int) string { return hex.EncodeToString(c.digests[i-1][:]) }

// Len is n, the number of keys in the sequence.
func (c *KeyChain) Len() int { return len(c.digests) }

// Remaining is the number of keys not handed out yet by Next.
func (c *KeyChain) Remaining() int { return c.next }

// Next hands out the next key, K(n) first; ok is false once K(1) has been
// used.
func (c *KeyChain) Next() (key string, ok bool) {
	if c.next < 1 {
		return "", false
	}
	c.next--
	return c.Key(c.next + 1), true
}
