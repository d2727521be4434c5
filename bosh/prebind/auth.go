package prebind

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// authorize checks the bearer secret (RFC 6750 §2.1), in constant time,
// then the caller's address.
func (st *settings) authorize(w http.ResponseWriter, r *http.Request) *refusal {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="boshd prebind"`)
		return refuse(http.StatusUnauthorized, "invalid_token", "send Authorization: Bearer <secret>")
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if subtle.ConstantTimeCompare(sum[:], st.secret[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="boshd prebind", error="invalid_token"`)
		return refuse(http.StatusUnauthorized, "invalid_token", "wrong secret")
	}
	if len(st.cfg.Allow) > 0 {
		a, err := netip.ParseAddr(st.cfg.ClientAddr(r))
		if err != nil || !slices.ContainsFunc(st.cfg.Allow, func(p netip.Prefix) bool { return p.Contains(a.Unmap()) }) {
			return refuse(http.StatusForbidden, "forbidden", "this address may not pre-bind")
		}
	}
	return nil
}
