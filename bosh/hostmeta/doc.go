// Package hostmeta serves XEP-0156 discovery of boshd's endpoints: the
// domain's /.well-known/host-meta (an RFC 6415 XRD document) and
// /.well-known/host-meta.json (its JSON form, XEP-0156 §3.3), each
// listing a Link with rel urn:xmpp:alt-connections:xbosh for the BOSH
// endpoint and urn:xmpp:alt-connections:websocket for the RFC 7395 one.
//
// A browser client given only a JID fetches https://<domain>/.well-known/
// host-meta from the page's origin, so the answer carries CORS headers. The
// URLs are the configured public ones (behind a reverse proxy they differ
// from boshd's listen address); unset, they are derived from the request's
// Host and scheme (https when the request came over TLS or a proxy says
// X-Forwarded-Proto: https). The same document is served whatever Host the
// request names, so it holds for every domain boshd serves.
//
// Use: mount a Handler at PathXRD and PathJSON.
package hostmeta
