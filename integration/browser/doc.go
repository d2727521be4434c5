// Package browser holds boshd's browser tests: Debian's Chromium, driven
// headless through the DevTools protocol (chromedp), runs the real, current
// Strophe.js and Converse.js from npm against boshd in front of a real
// Prosody and a real ejabberd.
//
// The idea: a BOSH connection manager exists for browsers (XEP-0124 §1,
// XEP-0206), and the browsers' own behaviour — CORS pre-flights, at most two
// requests in flight, resending the same rid after a lost response
// (XEP-0124 §14.3), sessionStorage session restore after a page reload — is
// what a unit test cannot reproduce. So each scenario loads a page from
// web/ (served from another origin than boshd, so that every BOSH request is
// cross-origin), logs users in and asserts what they see: every message
// once and in order, presence and roster subscription (RFC 6121), an idle
// session outliving 'wait', a clean terminate, a few seconds of lost
// responses survived without a reconnect, a page reload that keeps the
// session (the same sid), and Converse.js's full chat UI. The network drop
// fails responses the endpoint already sent and asserts that each resent
// rid got the very answer that was lost, from the endpoint's cache.
//
// TestDemo runs demo/run.sh (make demo) as a newcomer would: twice, the
// first run killed with kill -9, then logs in to the page it prints as two
// users with Converse.js and chats through the boshd it started, and
// checks that Ctrl-C leaves no process and no state behind.
//
// Screenshots (Converse.js per server, the demo) go to
// integration/artifacts/, which git ignores and CI may keep. Chromium
// runs with exactly the flags the issue prescribes (chromiumFlags) and a
// fresh profile per test.
//
// The package has only tests. TestMain runs scripts/npm-deps.sh (npm ci from
// web/package-lock.json when node_modules is missing or stale) and builds
// ./cmd/boshd once; each server gets its own boshd, config written to a
// temp dir, on free loopback ports. BROWSER_BOSH=own points the pages at the
// servers' own BOSH instead, which only serves to debug the tests.
package browser
