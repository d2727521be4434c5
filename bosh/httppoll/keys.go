package httppoll

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
)

// NextKey returns K(n) given K(n-1): XEP-0025 §3, K(n) =
// Base64(SHA1(K(n-1))), the Base64 (RFC 3548, with padding) of the raw
// 20-byte digest of the previous key's text. Unlike XEP-0124 §15, whose
// keys are hex, the two are not interchangeable.
func NextKey(prev string) string {
	sum := sha1.Sum([]byte(prev))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// KeyChain returns the keys K(1..n) for seed, in the order a client uses
// them: first K(n), which it sends with identifier 0, then K(n-1), and so
// on down to K(1) (XEP-0025 §4). A client sends a new chain's first key as
// new_key along with the last key it uses of the old chain.
func KeyChain(seed string, n int) []string {
	keys := make([]string, n)
	k := seed
	for i := n - 1; i >= 0; i-- {
		k = NextKey(k)
		keys[i] = k // keys[n-1] is K(1), keys[0] is K(n)
	}
	return keys
}

// keyFollows reports whether key is the predecessor in the chain of the key
// last received (XEP-0025 §4 step 5: the server computes K(1, incoming) and
// compares it with the previous request's key), in constant time.
func keyFollows(key, last string) bool {
	return subtle.ConstantTimeCompare([]byte(NextKey(key)), []byte(last)) == 1
}
