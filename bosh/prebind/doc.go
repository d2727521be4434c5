// Package prebind logs users into XMPP on behalf of a web application:
// pre-binding. The application, which already knows who its user is,
// asks boshd for an authenticated BOSH session; the page then attaches to
// that session (Strophe.js's attach, Converse.js's authentication:
// 'prebind' with prebind_url) without a second password prompt.
//
// # The idea
//
// A BOSH session (XEP-0124 §7) is named by its sid and advanced by rids,
// each one higher than the last (§14.1). Whoever knows the sid and the last
// rid can carry on, so a session may be created and logged in (XEP-0206
// §5: SASL, restart, bind) by one party and continued by another, as long
// as the hand-over happens within the session's inactivity period (§10)
// and no request is left held for the first party. The [Handler] is that
// first party: it drives the BOSH endpoint in-process, exactly as a remote
// client would ([client.Session] over an http.RoundTripper that calls the
// endpoint's ServeHTTP), prefers SCRAM (RFC 5802) to PLAIN (RFC 4616),
// binds the resource the application names (RFC 6120 §7), then lets go,
// with no request held, and answers
//
//	{"jid": "user@example.org/res", "sid": "…", "rid": 1234}
//
// where rid is the last rid used; the page continues with rid + 1. A
// session nobody attaches to ends after the BOSH endpoint's inactivity
// period, like any session whose client went away.
//
// # Using it
//
// [New] takes a [Config] naming the BOSH endpoint (an http.Handler) and the
// shared secret the application presents as "Authorization: Bearer …";
// mount the Handler on its own path (boshd: [prebind] path, default
// /prebind). Requests are POSTs with a form-encoded or JSON body holding
// jid and password. Refusals are JSON objects {"error": code, "message":
// text} with a status that says who is at fault: 401 for a missing or
// wrong secret (code invalid_token) and for credentials the XMPP server
// refuses (not-authorized), 403 for a caller outside Config.Allow, 400 for
// a malformed request, 502 and 504 for an upstream that failed or did not
// answer in time. Passwords are never logged, at any level.
package prebind
