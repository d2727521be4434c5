// Command scale measures how many concurrent logged-in BOSH sessions a
// fleet of boshd processes holds on this machine, and what each costs, by
// stepping the number of sessions up (issue 13: "Scale, measured"). It
// writes the tables, the curves (SVG) and the paper estimate for one
// million sessions into docs/scaling.md.
//
// One process may hold at most 20 000 open files here, and an HTTP/1.1
// session costs two of them in boshd (the client's connection and the
// upstream stream) and two in the load generator (the held request and a
// send), so every tier is several processes: K boshd nodes (each with its
// cluster.node_id), M Prosody processes (each node routed to one of them;
// Prosody does not cluster, so every account exists on every server and
// the two sessions of a chatting pair reach the same node) or an ejabberd
// cluster of M nodes, optionally L HAProxy processes running the shipped
// deploy/haproxy.cfg (extended to K nodes) in front, and as many boshload
// processes as the sessions need, kept in step with boshload -sync and
// merged with boshload -merge into one result per step.
//
// Each step starts every process afresh (so each RSS growth is the step's
// own), creates the accounts (Prosody: account files; ejabberd: one RPC
// session), runs the load (setup, idle, message phase, close), stops every
// process by PID and records the merged result. Stepping stops at the
// first step that loses a message or a login, unless -keep-going.
//
//	go run ./bench/scale -nodes 6 -servers 4 -steps 5000,10000,20000,35000,50000
//	go run ./bench/scale -nodes 2 -servers 1 -steps 500 -duration 10s -out /tmp/scaling.md   # smoke run
//	go run ./bench/scale -report-only -json-dir DIR                                          # redraw
//
// Every process listens on and connects from loopback addresses only
// (127.0.0.1; boshload process p connects from 127.0.1.p+1), every phase
// is bounded in time, and everything started is stopped by its PID, also
// on SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"boshd/bench/internal/proc"
)

// config is the command line.
type config struct {
	nodes, servers, lbs int
	upstream            string
	steps               []int
	perLoader           int
	conc                int
	rate                float64
	duration, settle    time.Duration
	stepTimeout         time.Duration
	out, jsonDir        string
	haproxyCfg          string
	keepGoing           bool
	reportOnly          bool
	boshdBin            string
	msgRateEstimate     float64
}

func main() {
	c, code := parseArgs(os.Args[1:], os.Stderr)
	if code >= 0 {
		os.Exit(code)
	}
	var err error
	if c.reportOnly {
		err = reportFromDir(c)
	} else {
		proc.Logf = logf
		proc.StopOnSignal()
		err = runSteps(c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// parseArgs reads the command line; code is -1 to go on, else the exit
// status.
func parseArgs(args []string, stderr io.Writer) (c config, code int) {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.nodes, "nodes", 2, "boshd processes (K), named n1…nK (cluster.node_id)")
	fs.IntVar(&c.servers, "servers", 1, "upstream processes (M): Prosody servers, or nodes of one ejabberd cluster")
	fs.StringVar(&c.upstream, "upstream", "prosody", "prosody or ejabberd")
	fs.IntVar(&c.lbs, "haproxy", 0, "HAProxy processes in front of the nodes (0: boshload spreads over the nodes itself); needs -upstream ejabberd or -servers 1, since HAProxy places the two sessions of a pair apart")
	stepList := fs.String("steps", "5000,10000,20000,35000,50000", "concurrent logged-in sessions at each step")
	fs.IntVar(&c.perLoader, "per-loader", 8000, "most sessions per boshload process (two open files each under its 20 000)")
	fs.IntVar(&c.conc, "c", 100, "setup concurrency of each boshload process")
	fs.Float64Var(&c.rate, "rate", 200, "messages per second, all sessions together")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "length of the message phase")
	fs.DurationVar(&c.settle, "settle", 10*time.Second, "idle time before memory is read")
	fs.DurationVar(&c.stepTimeout, "step-timeout", 0, "bound of one step (0: 10 min + 1 min per 1000 sessions)")
	fs.StringVar(&c.out, "out", "docs/scaling.md", "markdown file whose results section is rewritten; charts go to img/ beside it")
	fs.StringVar(&c.jsonDir, "json-dir", "", "keep every boshload JSON result here (default: a temporary directory)")
	fs.StringVar(&c.haproxyCfg, "haproxy-config", "deploy/haproxy.cfg", "the shipped HAProxy recipe, extended to -nodes nodes")
	fs.BoolVar(&c.keepGoing, "keep-going", false, "run every step even after one lost messages or logins")
	fs.BoolVar(&c.reportOnly, "report-only", false, "run nothing: rewrite -out from the results kept in -json-dir")
	fs.StringVar(&c.boshdBin, "boshd", "", "use this boshd binary instead of building ./cmd/boshd")
	fs.Float64Var(&c.msgRateEstimate, "estimate-rate", 1.0/60, "messages per session per second assumed by the one-million estimate")
	if err := fs.Parse(args); err != nil {
		return c, 2
	}
	usage := func(format string, args ...any) (config, int) {
		fmt.Fprintf(stderr, "scale: "+format+"\n", args...)
		return c, 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	for _, f := range strings.Split(*stepList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 || n%2 != 0 {
			return usage("bad step %q (an even number of sessions, at least 2)", f)
		}
		c.steps = append(c.steps, n)
	}
	if c.reportOnly {
		if c.jsonDir == "" {
			return usage("-report-only needs -json-dir")
		}
		return c, -1
	}
	switch {
	case c.nodes < 1 || c.nodes > 99:
		return usage("-nodes %d: want 1 to 99", c.nodes)
	case c.servers < 1 || c.servers > 50:
		return usage("-servers %d: want 1 to 50", c.servers)
	case c.upstream != "prosody" && c.upstream != "ejabberd":
		return usage("-upstream %q: want prosody or ejabberd", c.upstream)
	case c.lbs < 0 || c.lbs > 50:
		return usage("-haproxy %d: want 0 to 50", c.lbs)
	case c.lbs > 0 && c.upstream == "prosody" && c.servers > 1:
		return usage("-haproxy with several Prosody servers: HAProxy may place the two sessions of a pair on nodes routed to different servers, which do not share users; use -upstream ejabberd or -servers 1")
	case c.perLoader < 2 || c.perLoader%2 != 0:
		return usage("-per-loader must be even")
	case c.rate < 0:
		return usage("-rate must not be negative")
	}
	return c, -1
}

// loaderShares splits n sessions over boshload processes of at most per
// sessions each, as evenly as pairs allow: every share is even, and the
// shares add up to n.
func loaderShares(n, per int) []int {
	k := (n + per - 1) / per
	pairs := n / 2
	shares := make([]int, k)
	for i := range k {
		p := pairs / k
		if i < pairs%k {
			p++
		}
		shares[i] = 2 * p
	}
	return shares
}

// stepTimeout bounds one step.
func (c config) stepBound(n int) time.Duration {
	if c.stepTimeout > 0 {
		return c.stepTimeout
	}
	return 10*time.Minute + time.Duration(n/1000)*time.Minute + c.duration + c.settle
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s scale: "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
