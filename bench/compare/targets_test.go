package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// resultJSON builds one boshload result with a phase at 500 messages/s:
// memory and CPU per process (name=value pairs), p99 and lost.
func resultJSON(t *testing.T, mem, cpu map[string]float64, p99 float64, lost int) *result {
	t.Helper()
	var ms, cs []string
	for name, v := range mem {
		ms = append(ms, fmt.Sprintf(`{"name":%q,"per_session_kb":%g}`, name, v))
	}
	for name, v := range cpu {
		cs = append(cs, fmt.Sprintf(`{"name":%q,"ms_per_delivered":%g}`, name, v))
	}
	raw := fmt.Sprintf(`{"memory":[%s],"phases":[{"rate":500,"Delivered":1000,"Lost":%d,"P99Ms":%g,"cpu":[%s]}]}`,
		strings.Join(ms, ","), lost, p99, strings.Join(cs, ","))
	var r result
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// TestWriteTargets checks each of issue 12's verdicts on both sides of its
// threshold, and that a check whose rows were not run is left out.
func TestWriteTargets(t *testing.T) {
	type row = map[string]float64
	tests := []struct {
		name    string
		results func(t *testing.T) map[key][]*result
		want    []string // lines the table must hold
		absent  []string // substrings it must not
	}{
		{
			name: "memory met, stretch not; CPU over half of node's; p99 better; nothing lost",
			results: func(t *testing.T) map[key][]*result {
				return map[key][]*result{
					{plainProsody, 5000}: {resultJSON(t, row{"boshd": 16.2, "prosody": 30}, row{"boshd": 0.8, "prosody": 0.5}, 90, 0)},
					{nxbTarget, 5000}:    {resultJSON(t, row{nxbName: 38.1, "prosody": 30}, row{nxbName: 1.0, "prosody": 0.5}, 100, 0)},
				}
			},
			want: []string{
				"| 5000 | – | boshd's RSS per idle logged-in session (HTTP/1.1, plain-TCP upstream) | 16.2 KiB | ≤ 19 KiB | yes |",
				"| 5000 | – | the same, stretch target | 16.2 KiB | ≤ 12 KiB | **no** |",
				"| 5000 | 500 | boshd's CPU per delivered message against node-xmpp-bosh's (each process alone) | 0.800 against 1.000 ms (0.80×) | ≤ 0.5× | **no** |",
				"| 5000 | 500 | p99 latency through boshd against node-xmpp-bosh (both before Prosody) | 90.0 against 100.0 ms (0.90×) | ≤ 1× | yes |",
				"| 5000 | 500 | messages lost by boshd, every boshd row and run | 0 | 0 | yes |",
			},
			absent: []string{"ejabberd", "variant"},
		},
		{
			name: "CPU at half of node's is met; a lost message in any boshd row is not",
			results: func(t *testing.T) map[key][]*result {
				return map[key][]*result{
					{plainProsody, 1000}: {resultJSON(t, row{"boshd": 20}, row{"boshd": 0.5}, 120, 0)},
					{tlsProsody, 1000}:   {resultJSON(t, row{"boshd": 30}, row{"boshd": 0.6}, 10, 2)},
					{nxbTarget, 1000}:    {resultJSON(t, row{nxbName: 40}, row{nxbName: 1.0}, 100, 0)},
				}
			},
			want: []string{
				"| 1000 | – | boshd's RSS per idle logged-in session (HTTP/1.1, plain-TCP upstream) | 20.0 KiB | ≤ 19 KiB | **no** |",
				"| 1000 | 500 | boshd's CPU per delivered message against node-xmpp-bosh's (each process alone) | 0.500 against 1.000 ms (0.50×) | ≤ 0.5× | yes |",
				"| 1000 | 500 | p99 latency through boshd against node-xmpp-bosh (both before Prosody) | 120.0 against 100.0 ms (1.20×) | ≤ 1× | **no** |",
				"| 1000 | 500 | messages lost by boshd, every boshd row and run | 2 | 0 | **no** |",
				"| 1000 | STARTTLS to Prosody | 30.0 (plain 20.0) | +10.0 | 500 | 0.600 (plain 0.500) | 1.20× |",
			},
		},
		{
			name: "ejabberd: boshd with its c2s against mod_bosh, p99 within 1 ms",
			results: func(t *testing.T) map[key][]*result {
				return map[key][]*result{
					{plainEjabberd, 5000}:   {resultJSON(t, row{"boshd": 16, "ejabberd": 44}, row{"boshd": 0.6, "ejabberd": 0.5}, 4.5, 0)},
					{ejabberdOwnBOSH, 5000}: {resultJSON(t, row{"ejabberd": 92}, row{"ejabberd": 1.0}, 3.6, 0)},
				}
			},
			want: []string{
				"| 5000 | – | boshd + ejabberd's c2s against ejabberd's own BOSH, RSS per session | 60.0 against 92.0 KiB (0.65×) | ≤ 1× | yes |",
				"| 5000 | 500 | boshd + ejabberd's c2s against ejabberd's own BOSH, CPU per delivered message | 1.100 against 1.000 ms (1.10×) | ≤ 1× | **no** |",
				"| 5000 | 500 | p99 latency through boshd + ejabberd against ejabberd's own BOSH | 4.5 against 3.6 ms (+0.9 ms) | ≤ +1 ms | yes |",
			},
			absent: []string{"node-xmpp-bosh"},
		},
		{
			name: "the other side of each threshold: stretch met; ejabberd memory not, CPU met, p99 over by more than 1 ms",
			results: func(t *testing.T) map[key][]*result {
				return map[key][]*result{
					{plainProsody, 5000}:    {resultJSON(t, row{"boshd": 11.5}, row{"boshd": 0.5}, 10, 0)},
					{plainEjabberd, 5000}:   {resultJSON(t, row{"boshd": 16, "ejabberd": 84}, row{"boshd": 0.3, "ejabberd": 0.6}, 5.1, 0)},
					{ejabberdOwnBOSH, 5000}: {resultJSON(t, row{"ejabberd": 90}, row{"ejabberd": 1.0}, 3.0, 0)},
				}
			},
			want: []string{
				"| 5000 | – | the same, stretch target | 11.5 KiB | ≤ 12 KiB | yes |",
				"| 5000 | – | boshd + ejabberd's c2s against ejabberd's own BOSH, RSS per session | 100.0 against 90.0 KiB (1.11×) | ≤ 1× | **no** |",
				"| 5000 | 500 | boshd + ejabberd's c2s against ejabberd's own BOSH, CPU per delivered message | 0.900 against 1.000 ms (0.90×) | ≤ 1× | yes |",
				"| 5000 | 500 | p99 latency through boshd + ejabberd against ejabberd's own BOSH | 5.1 against 3.0 ms (+2.1 ms) | ≤ +1 ms | **no** |",
			},
		},
		{
			name: "no rows a check needs: no table at all",
			results: func(t *testing.T) map[key][]*result {
				return map[key][]*result{{"prosody-bosh", 1000}: {resultJSON(t, row{"prosody": 33}, row{"prosody": 2}, 50, 0)}}
			},
			absent: []string{"Targets of issue 12"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
			writeTargets(p, []int{1000, 5000}, []float64{500}, tc.results(t))
			got := b.String()
			lines := strings.Split(got, "\n")
			for _, w := range tc.want {
				found := false
				for _, l := range lines {
					if l == w {
						found = true
					}
				}
				if !found {
					t.Errorf("table lacks line\n%s\ngot:\n%s", w, got)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(got, a) {
					t.Errorf("table holds %q:\n%s", a, got)
				}
			}
		})
	}
}
