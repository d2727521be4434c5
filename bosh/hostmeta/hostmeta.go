package hostmeta

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

// Paths of the two documents (RFC 6415 §2, XEP-0156 §3.3).
const (
	PathXRD  = "/.well-known/host-meta"
	PathJSON = "/.well-known/host-meta.json"
)

// Link relations of XEP-0156 §3.2.
const (
	RelBOSH      = "urn:xmpp:alt-connections:xbosh"
	RelWebSocket = "urn:xmpp:alt-connections:websocket"
)

// nsXRD is the namespace of an XRD document (RFC 6415 §3).
const nsXRD = "http://docs.oasis-open.org/ns/xri/xrd-1.0"

// Config says which endpoints to list.
type Config struct {
	// BOSHURL and WebSocketURL are the public URLs of the endpoints. An
	// empty one is derived from the request and the path below.
	BOSHURL, WebSocketURL string
	// BOSHPath and WebSocketPath are the endpoints' paths on this
	// listener; "" means the endpoint is off (and is listed only if its
	// URL is set).
	BOSHPath, WebSocketPath string
	// Origins lists the page origins that may read the documents (CORS);
	// "*" allows any. Empty: no CORS headers (a reverse proxy adds them).
	Origins []string
}

// Handler answers GET and HEAD on PathXRD and PathJSON.
type Handler struct{ cfg Config }

// New returns a Handler for cfg.
func New(cfg Config) *Handler { return &Handler{cfg: cfg} }

// Link is one XEP-0156 §3.2 link.
type Link struct {
	Rel  string `xml:"rel,attr" json:"rel"`
	Href string `xml:"href,attr" json:"href"`
}

// Links returns the links for a request: the configured URLs, or those
// derived from its Host and scheme.
func (h *Handler) Links(r *http.Request) []Link {
	secure := r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
	var links []Link
	if u := h.url(h.cfg.BOSHURL, h.cfg.BOSHPath, r.Host, "http", secure); u != "" {
		links = append(links, Link{Rel: RelBOSH, Href: u})
	}
	if u := h.url(h.cfg.WebSocketURL, h.cfg.WebSocketPath, r.Host, "ws", secure); u != "" {
		links = append(links, Link{Rel: RelWebSocket, Href: u})
	}
	return links
}

func (h *Handler) url(configured, path, host, scheme string, secure bool) string {
	if configured != "" {
		return configured
	}
	if path == "" || host == "" {
		return ""
	}
	if secure {
		scheme += "s"
	}
	return scheme + "://" + host + path
}

// xrd is the RFC 6415 document.
type xrd struct {
	XMLName xml.Name `xml:"XRD"`
	NS      string   `xml:"xmlns,attr"`
	Links   []Link   `xml:"Link"`
}

// ServeHTTP answers with the XRD or JSON document, chosen by the path (or,
// on PathXRD, by an Accept header asking for JSON only, RFC 6415 §6.1).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.cors(w, r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "boshd: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	links := h.Links(r)
	var body []byte
	var ctype string
	if r.URL.Path == PathJSON || wantsJSON(r.Header.Get("Accept")) {
		if links == nil {
			links = []Link{}
		}
		body, _ = json.Marshal(struct {
			Links []Link `json:"links"`
		}{links})
		ctype = "application/json"
	} else {
		b, _ := xml.MarshalIndent(xrd{NS: nsXRD, Links: links}, "", "  ")
		body = append([]byte(xml.Header), b...)
		ctype = "application/xrd+xml; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Vary", "Accept, Origin")
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// wantsJSON reports whether an Accept header asks for JSON and not XRD.
func wantsJSON(accept string) bool {
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "xrd+xml")
}

// cors lets pages on the configured origins read the documents.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	for _, o := range h.cfg.Origins {
		if o == "*" || strings.EqualFold(o, origin) {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			return
		}
	}
}
