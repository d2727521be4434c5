package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"boshd/integration/servers"
)

// node-xmpp-bosh (npm package node-xmpp-bosh) is the standalone peer of
// boshd: a BOSH connection manager in Node.js, run here in front of the
// same private Prosody as boshd+prosody (target "node-xmpp-bosh+prosody").
const (
	nxbTarget  = "node-xmpp-bosh+prosody"
	nxbVersion = "0.7.10"
	nxbName    = "node-xmpp-bosh" // its process's name in boshload's -pids
	// nxbLogLevel: ERROR, as boshd and the servers log only warnings.
	nxbLogLevel = "ERROR"
)

// nxbDir is where node-xmpp-bosh is installed with the machine's npm: a
// cache directory, never the repository.
func nxbDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "boshd-bench", "node-xmpp-bosh"), nil
}

// installNXB installs node-xmpp-bosh once and returns its run-server.js.
// Its pinned node-expat 2.0 no longer builds with current Node.js, so the
// install overrides it with 2.4 (same API).
func installNXB() (string, error) {
	dir, err := nxbDir()
	if err != nil {
		return "", err
	}
	script := filepath.Join(dir, "node_modules", "node-xmpp-bosh", "run-server.js")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-expat", "build", "Release", "node_expat.node")); err == nil {
		return script, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	pkg := fmt.Sprintf(`{"name":"boshd-bench-nxb","private":true,"dependencies":{"node-xmpp-bosh":%q},"overrides":{"node-expat":"^2.4.1"}}`, nxbVersion)
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pkg), 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install node-xmpp-bosh in %s: %v\n%s", dir, err, out)
	}
	return script, nil
}

// nxbProc is a running node-xmpp-bosh.
type nxbProc struct {
	cmd    *exec.Cmd
	url    string
	dir    string
	exited chan struct{}
}

// startNXB starts node-xmpp-bosh on a free loopback port, configured as
// its bosh.conf.example.js but for the address, logging at ERROR, plain TCP
// to the server like boshd's upstream (no_tls_domains) and every session
// sent to the private server's c2s port (lookup_service).
func startNXB(script string, srv *servers.Server) (*nxbProc, error) {
	dir, err := os.MkdirTemp("", "nxb-bench-")
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		upHost, upPort, err := net.SplitHostPort(srv.Addr)
		if err != nil {
			return nil, err
		}
		cfg := fmt.Sprintf(`// node-xmpp-bosh 0.7.10 ignores the host and port of 'route' (it
// dials the 'to' domain on 5222), so sessions reach the private server
// through a lookup service of our own: always its c2s address.
var events = require('events'), util = require('util');
function FixedServer(port, stream) { events.EventEmitter.call(this); }
util.inherits(FixedServer, events.EventEmitter);
FixedServer.prototype.connect = function (socket) {
	var self = this;
	function ok(e) { socket.removeListener('error', bad); self.emit('connect', e); }
	function bad(e) { socket.removeListener('connect', ok); self.emit('error', 'host-unknown'); }
	socket.once('connect', ok);
	socket.once('error', bad);
	socket.connect(%s, %q);
};
exports.config = {
	port: %d,
	host: '127.0.0.1',
	path: /^\/http-bind(\/+)?$/,
	logging: %q,
	max_data_held: 100000,
	max_xmpp_stanza_size: 500000,
	max_bosh_connections: 2,
	window_size: 2,
	default_inactivity: 70,
	max_inactivity: 160,
	http_socket_keepalive: 60,
	max_streams_per_session: 8,
	http_headers: { },
	no_tls_domains: [ %q ],
	firewall: { deny: [ ] },
	route_filter: /.*/,
	pidgin_compatible: true,
	trim_default_length: 256,
	system_info_password: '',
	websocket_ping_interval: 30,
	lookup_service: FixedServer
};
`, upPort, upHost, port, nxbLogLevel, srv.Domain)
		path := filepath.Join(dir, "bosh.conf.js")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		logFile, err := os.Create(filepath.Join(dir, "nxb.log"))
		if err != nil {
			return nil, err
		}
		cmd := exec.Command("node", script, "--config="+path)
		cmd.Dir = filepath.Dir(script)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			logFile.Close()
			return nil, err
		}
		p := &nxbProc{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/http-bind", port), dir: dir, exited: make(chan struct{})}
		go func() { cmd.Wait(); logFile.Close(); close(p.exited) }()
		// Not a GET: node-xmpp-bosh 0.7.10 throws on one under current
		// Node.js (u.query has no prototype), so wait for the port.
		werr := waitTCP(fmt.Sprintf("127.0.0.1:%d", port), p.exited, 15*time.Second)
		if werr == nil {
			return p, nil
		}
		tail, _ := os.ReadFile(logFile.Name())
		p.stop()
		if !strings.Contains(string(tail), "EADDRINUSE") {
			return nil, fmt.Errorf("node-xmpp-bosh did not start: %v\n%s", werr, tail)
		}
	}
	return nil, fmt.Errorf("node-xmpp-bosh: no free port after 3 attempts")
}

// waitTCP waits until addr accepts a connection.
func waitTCP(addr string, exited <-chan struct{}, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before accepting: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *nxbProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	if out, err := os.ReadFile(filepath.Join(p.dir, "nxb.log")); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		logf("node-xmpp-bosh log: %d lines, last: %s", len(lines), lines[len(lines)-1])
	}
	if os.Getenv("NXB_KEEP") == "" {
		os.RemoveAll(p.dir)
	} else {
		logf("kept %s", p.dir)
	}
}
