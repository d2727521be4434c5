package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"boshd/bench/internal/report"
)

// TestRatiosCompareWithTheSameServer: a boshd row's ratio is taken against
// the peers with the same XMPP server, not the best peer of all (ejabberd's
// mod_bosh would otherwise set the bar for boshd in front of Prosody).
func TestRatiosCompareWithTheSameServer(t *testing.T) {
	type row = map[string]float64
	results := map[key][]*result{
		{plainProsody, 5000}:    {resultJSON(t, row{"boshd": 16, "prosody": 35}, row{"boshd": 0.7, "prosody": 0.7}, 220, 0)},
		{nxbTarget, 5000}:       {resultJSON(t, row{nxbName: 38, "prosody": 35}, row{nxbName: 0.8, "prosody": 0.7}, 200, 0)},
		{plainEjabberd, 5000}:   {resultJSON(t, row{"boshd": 16, "ejabberd": 44}, row{"boshd": 0.8, "ejabberd": 1.2}, 28, 0)},
		{ejabberdOwnBOSH, 5000}: {resultJSON(t, row{"ejabberd": 80}, row{"ejabberd": 1.6}, 7, 0)},
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "b.md")
	if err := os.WriteFile(out, []byte(report.BeginMark+"\n"+report.EndMark+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := config{ns: []int{5000}, rates: "500", runs: 1, out: out, jsonDir: dir}
	if err := writeDoc(c, results, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| boshd+prosody | 5000 | 0.0 | 0.0 | 220.0 | 0.0 | 1.10 |", // p99 over node-xmpp-bosh's 200
		"| boshd+ejabberd | 5000 | 0.0 | 0.0 | 28.0 | 0.0 | 4.00 |", // over mod_bosh's 7
		"| boshd+prosody | 5000 | 0.700 | 0.700 | 1.400 | 0.93 |",   // CPU over node + Prosody's 1.5
		"| boshd+prosody | 5000 | 16.0 | 35.0 | 51.0 | 0.70 |",      // memory over node + Prosody's 73
		"| boshd+ejabberd | 5000 | 16.0 | 44.0 | 60.0 | 0.75 |",     // over mod_bosh's 80
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("report lacks the row\n%s\n%s", want, raw)
		}
	}
}
