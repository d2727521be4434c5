package hostmeta

import (
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHostMeta(t *testing.T) {
	tests := []struct {
		name          string
		cfg           Config
		path, host    string
		tls           bool
		proto         string
		wantBOSH      string
		wantWebSocket string
	}{
		{name: "derived http", cfg: Config{BOSHPath: "/http-bind", WebSocketPath: "/xmpp-websocket"}, path: PathXRD, host: "chat.example:5280",
			wantBOSH: "http://chat.example:5280/http-bind", wantWebSocket: "ws://chat.example:5280/xmpp-websocket"},
		{name: "derived https json", cfg: Config{BOSHPath: "/http-bind", WebSocketPath: "/xmpp-websocket"}, path: PathJSON, host: "chat.example", tls: true,
			wantBOSH: "https://chat.example/http-bind", wantWebSocket: "wss://chat.example/xmpp-websocket"},
		{name: "behind a TLS proxy", cfg: Config{BOSHPath: "/http-bind", WebSocketPath: "/xmpp-websocket"}, path: PathJSON, host: "chat.example", proto: "https",
			wantBOSH: "https://chat.example/http-bind", wantWebSocket: "wss://chat.example/xmpp-websocket"},
		{name: "configured", cfg: Config{BOSHURL: "https://x.example/bosh", WebSocketURL: "wss://x.example/ws", BOSHPath: "/http-bind", WebSocketPath: "/xmpp-websocket"},
			path: PathXRD, host: "127.0.0.1:5280", wantBOSH: "https://x.example/bosh", wantWebSocket: "wss://x.example/ws"},
		{name: "websocket off", cfg: Config{BOSHPath: "/http-bind"}, path: PathJSON, host: "chat.example", wantBOSH: "http://chat.example/http-bind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			r.Host = tt.host
			r.Header.Set("Origin", "https://page.example")
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			tt.cfg.Origins = []string{"*"}
			w := httptest.NewRecorder()
			New(tt.cfg).ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != "https://page.example" {
				t.Errorf("Access-Control-Allow-Origin = %q", got)
			}
			var links []Link
			if tt.path == PathJSON {
				if ct := w.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				var doc struct{ Links []Link }
				if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
					t.Fatal(err)
				}
				links = doc.Links
			} else {
				if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/xrd+xml") {
					t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
				}
				var doc struct {
					XMLName xml.Name
					Links   []Link `xml:"Link"`
				}
				if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
					t.Fatal(err)
				}
				if doc.XMLName.Space != nsXRD || doc.XMLName.Local != "XRD" {
					t.Errorf("root %v", doc.XMLName)
				}
				links = doc.Links
			}
			got := map[string]string{}
			for _, l := range links {
				got[l.Rel] = l.Href
			}
			if got[RelBOSH] != tt.wantBOSH || got[RelWebSocket] != tt.wantWebSocket || len(got) != len(links) {
				t.Errorf("links %v, want bosh %q websocket %q\n%s", links, tt.wantBOSH, tt.wantWebSocket, w.Body)
			}
		})
	}
}
