// Command boshload is a BOSH load generator that behaves like browser
// clients (XEP-0124, XEP-0206), to measure a connection manager.
//
// # What a real client does, and so what boshload does
//
// A browser chat client such as Strophe.js creates a session with
// hold='1', wait='60', ver='1.6' and xmpp:version='1.0' (XEP-0124 §7.1,
// XEP-0206 §3), authenticates with SASL inside <body/> wrappers, restarts
// the stream (XEP-0206 §5), binds a resource (RFC 6120 §7) and sends its
// initial presence (RFC 6121 §4.2). From then on it keeps one request held
// by the connection manager at all times, so that the server can push
// stanzas at once (XEP-0124 §8); a stanza the user sends travels in a
// second request, which makes the manager answer the held one.
//
// boshload runs these phases, each bounded in time:
//
//  1. setup: N sessions are created and logged in with at most C at once;
//     it reports sessions per second and the login time p50/p99;
//  2. idle: every session keeps its request held; after a settling time
//     it reads the resident memory (RSS, /proc/PID/status) of the
//     processes whose PIDs it was given and reports it per session;
//  3. messages: chat messages go between the two sessions of each pair at
//     a fixed total rate for a fixed duration; each carries its sequence
//     number, and the receiver notes the time: latency p50/p90/p99/max,
//     sent, delivered, lost (not received before the drain time ends) and
//     duplicated; CPU seconds of the given PIDs (/proc/PID/stat) over the
//     phase divided by the messages delivered; failed sends counted by
//     class (a send still held when the phase ends is canceled, and loses
//     nothing if its message was delivered);
//  4. close: every session is terminated (XEP-0124 §13).
//
// All sessions come from this machine's address (or the few of
// -source-addrs), so a boshd under test must allow that many from one
// address: give it [bosh] max_sessions_per_address = 0 (the default, 100,
// is for real clients; bench/compare sets 0 in the config it writes).
//
// A progress line is drawn on stderr when it is a terminal; the result is
// printed as JSON on stdout (or written to -json).
//
// Accounts are not created by boshload: it logs in as the users named by
// -user (a pattern with %d, numbered from 0) with one password; the
// comparison program bench/compare registers them on the servers it starts.
//
// Tens of thousands of sessions: -source-addrs spreads connections over
// several loopback source addresses (127.0.0.2, 127.0.0.3, ...), so that
// the ~28 000 ephemeral ports of one address are not exhausted; -h2
// speaks HTTP/2 to an https URL, so that many sessions share a few TCP
// connections. Both use net/http, which costs two goroutines per
// connection; the default path uses the client package's lighter pool.
package main
