// Package frontendtest holds the checks every front end's tests make
// alike: the Prometheus series a session moves (the operators' contract,
// bosh/metrics), and what a server's bytes that are not well-formed XML
// (issue 11) must lead to: a client that receives only what a strict XML
// parser accepts, and a log that names the fault and its offset but never
// shows the stanza. Only tests import it.
package frontendtest

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/sirupsen/logrus"
)

// Series checks that the series of name in reg include lines (each a
// whole line of the text format, e.g. `boshd_sessions{transport="bosh"} 1`).
func Series(t testing.TB, reg *prometheus.Registry, name string, lines ...string) {
	t.Helper()
	out, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if !strings.Contains(string(out), l+"\n") {
			t.Errorf("no %q in\n%s", l, out)
		}
	}
}

// SeriesSoon is Series for a count made on another goroutine just after
// what the test can see (a session's owner counts its end after the
// client sees the close): it waits up to 5 s for lines to appear.
func SeriesSoon(t testing.TB, reg *prometheus.Registry, name string, lines ...string) {
	t.Helper()
	var out []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if out, err = testutil.GatherAndFormat(reg, expfmt.TypeTextPlain, name); err != nil {
			t.Fatal(err)
		}
		ok := true
		for _, l := range lines {
			ok = ok && strings.Contains(string(out), l+"\n")
		}
		if ok {
			return
		}
	}
	t.Fatalf("series %s lack %q:\n%s", name, lines, out)
}

// Secret is in every stanza of UpstreamFaults: no byte of it may reach
// the client or a log line.
const Secret = "secret"

// UpstreamFaults are stanzas a server may send that a strict XML parser
// refuses, each carrying Secret.
var UpstreamFaults = []struct{ Name, Bad string }{
	{"invalid UTF-8", "<message id='m'><body>secret \xff</body></message>"},
	{"NUL reference", "<message id='m'><body>secret &#0;</body></message>"},
	{"undefined entity", "<message id='m'><body>secret &unknown;</body></message>"},
	{"control character", "<message id='m'><body>secret \x1b[0m</body></message>"},
	{"reference in an attribute", "<message id='secret&#xD800;'/>"},
}

// StrictParse parses doc with encoding/xml (strict), to the end.
func StrictParse(doc string) error {
	d := xml.NewDecoder(bytes.NewReader([]byte(doc)))
	for {
		if _, err := d.Token(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// FaultLogged checks the log entries written after an UpstreamFault: one
// names the fault and its offset ("not well-formed … at byte"), and none
// at Info level or above shows Secret (Debug may show content).
func FaultLogged(t testing.TB, entries []*logrus.Entry) {
	t.Helper()
	var named bool
	for _, e := range entries {
		line, _ := e.String()
		if e.Level <= logrus.InfoLevel && strings.Contains(line, Secret) {
			t.Errorf("a log line shows the stanza: %s", line)
		}
		named = named || strings.Contains(line, "not well-formed") && strings.Contains(line, "at byte")
	}
	if !named {
		t.Errorf("no log line names the fault and its offset")
	}
}
