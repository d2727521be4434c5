// Package servers starts private, real XMPP servers (Debian's Prosody 0.12
// and ejabberd 23.01) for boshd's integration tests, benchmarks and demo.
//
// The idea: boshd is only as good as its behaviour against the servers
// people actually run, so tests talk to the real binaries instead of a fake.
// Each server runs as an isolated instance owned by the caller: its own
// configuration, data, logs and TLS certificates in one directory, its own
// loopback ports picked free at run time, and (for ejabberd) its own Erlang
// node name and cookie. Nothing of the system service is used or touched, so
// any number of instances of both kinds can run side by side in one test
// binary.
//
// A start is done only when the server is really usable: its c2s port
// accepts a TCP connection, the listening socket belongs to the started
// process (not to someone who grabbed the port in between), and it answers an
// RFC 6120 §4.2 stream header with <stream:features/> (RFC 6120 §4.3.2). A
// start that loses a port race is retried with new ports; any other failure
// returns an error that carries the tail of the server's log.
//
// Which function to call:
//
//   - In tests, [Prosody] and [Ejabberd] start a server, fail the test if it
//     cannot start, and stop it when the test ends.
//   - Elsewhere (benchmarks, the demo), [StartProsody] and [StartEjabberd]
//     with [Server.Stop] when done.
//   - [Server.Register] creates one account through the server's own tool;
//     [Server.RegisterMany] creates thousands in about a second.
//   - [Server.Kill] simulates an upstream crash (SIGKILL).
//   - For the processes a test runs beside a server (boshd, a web server),
//     [FreePort] picks a loopback port and [WaitHTTP] waits until it answers.
//
// Every process is started in its own process group with a parent-death
// signal, and the group is killed when the server exits, so neither a failed
// test nor a crashed test binary leaves server processes behind. ejabberd is
// run without epmd (fixed Erlang distribution port, -start_epmd false), so no
// shared daemon outlives the tests either.
//
// The server packages must be installed: scripts/install-deps.sh does it.
package servers
