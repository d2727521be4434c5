package endpoint

import (
	"net/http"
	"strings"
)

// Preflight adds the CORS headers that let pages on the configured origins
// call the endpoint (browsers send a preflight for text/xml POSTs). It
// returns true when the request was a preflight and has been answered.
// Headers are set, never added, so an answer never carries them twice.
func (s *Shell) Preflight(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if len(s.config().CORSOrigins) == 0 || origin == "" {
		return false
	}
	hdr := w.Header()
	hdr.Set("Vary", "Origin")
	if !s.originAllowed(origin) {
		return false
	}
	hdr.Set("Access-Control-Allow-Origin", origin)
	hdr.Set("Access-Control-Expose-Headers", "X-Poll-Interval")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	hdr.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" && validHeaderList(req) {
		hdr.Set("Access-Control-Allow-Headers", req)
	} else {
		hdr.Set("Access-Control-Allow-Headers", "Content-Type")
	}
	hdr.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (s *Shell) originAllowed(origin string) bool {
	for _, o := range s.config().CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// validHeaderList accepts a comma-separated list of header names, so that a
// hostile value is never echoed back.
func validHeaderList(s string) bool {
	if len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == ',' || c == ' ' || c == '-' || c == '_' || c == '.' ||
			'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
