// Command boshload is a BOSH load generator that behaves like browser
// clients (XEP-0124, XEP-0206), to measure a connection manager. Given a
// ws:// URL it runs the same phases over RFC 7395 WebSocket sessions
// instead (one connection per session; <open/>, SASL PLAIN, a new <open/>,
// bind; Run reads every message, which also answers the server's pings).
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
// Tens of thousands of sessions, over a fleet. -url may be repeated or a
// comma list: sessions are spread over the endpoints round-robin, by
// chatting pair by default (-spread pair: both sessions of a pair reach
// the same endpoint, which matters when endpoints front XMPP servers that
// do not share users) or by session (-spread session). -source-addrs
// spreads connections over several loopback source addresses (127.0.0.2,
// 127.0.0.3, ...), so that the ~28 000 ephemeral ports of one address are
// not exhausted; -h2 speaks HTTP/2 to an https URL, so that many sessions
// share a few TCP connections (net/http, two goroutines per connection);
// HTTP/1.1 uses the client package's lighter pool, one per source address.
//
// One process is limited to 20 000 open files here and an HTTP/1.1
// session costs the client two connections (the held request and a send),
// so one boshload holds about 9 000 sessions. Beyond that, run several
// side by side: -first-user gives each its own users and its place in the
// endpoint rotation, -sync keeps them in step (before each phase a process
// writes "boshload sync PHASE" on stderr and waits for a line on stdin;
// bench/scale drives them so), and only one of them gets -pids. Then
//
//	boshload -merge a.json,b.json,c.json -json all.json
//
// sums their results into one: counts and rates summed, percentiles from
// the summed latency histograms (each result carries its own, 2 % buckets),
// each measured process counted once with its memory per session and CPU
// per message recomputed over the merged totals.
package main
