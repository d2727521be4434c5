package main

import (
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	for _, c := range []struct {
		name  string
		args  []string
		code  int
		steps []int
	}{
		{"defaults", nil, -1, []int{5000, 10000, 20000, 35000, 50000}},
		{"smoke", []string{"-nodes", "2", "-servers", "1", "-steps", "500"}, -1, []int{500}},
		{"odd step", []string{"-steps", "501"}, 2, nil},
		{"bad upstream", []string{"-upstream", "openfire"}, 2, nil},
		{"haproxy over several prosody", []string{"-haproxy", "1", "-servers", "2"}, 2, nil},
		{"haproxy over an ejabberd cluster", []string{"-haproxy", "2", "-servers", "2", "-upstream", "ejabberd"}, -1, []int{5000, 10000, 20000, 35000, 50000}},
		{"no nodes", []string{"-nodes", "0"}, 2, nil},
		{"odd per-loader", []string{"-per-loader", "7999"}, 2, nil},
		{"report-only needs a directory", []string{"-report-only"}, 2, nil},
		{"stray argument", []string{"50000"}, 2, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, code := parseArgs(c.args, io.Discard)
			if code != c.code {
				t.Fatalf("code %d, want %d", code, c.code)
			}
			if code == -1 && !slices.Equal(cfg.steps, c.steps) {
				t.Errorf("steps %v, want %v", cfg.steps, c.steps)
			}
		})
	}
}

func TestLoaderShares(t *testing.T) {
	for _, c := range []struct {
		n, per int
		want   []int
	}{
		{500, 8000, []int{500}},
		{8000, 8000, []int{8000}},
		{8002, 8000, []int{4002, 4000}},
		{50000, 8000, nil},
		{20, 6, []int{6, 6, 4, 4}},
	} {
		got := loaderShares(c.n, c.per)
		sum := 0
		for _, s := range got {
			sum += s
			if s%2 != 0 || s > c.per {
				t.Errorf("loaderShares(%d, %d) = %v: share %d odd or above %d", c.n, c.per, got, s, c.per)
			}
		}
		if sum != c.n {
			t.Errorf("loaderShares(%d, %d) = %v sums to %d", c.n, c.per, got, sum)
		}
		if len(c.want) > 0 && !slices.Equal(got, c.want) {
			t.Errorf("loaderShares(%d, %d) = %v, want %v", c.n, c.per, got, c.want)
		}
		if want := (c.n + c.per - 1) / c.per; len(got) != want {
			t.Errorf("loaderShares(%d, %d): %d processes, want %d", c.n, c.per, len(got), want)
		}
	}
}

// TestHAProxyForNodes extends the shipped recipe: for three nodes it is
// the shipped file itself; for five, every node has its two routing rules
// and its server line, in order, and HAProxy accepts the file.
func TestHAProxyForNodes(t *testing.T) {
	shipped, err := os.ReadFile("../../deploy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	three, err := haproxyForNodes(string(shipped), 3)
	if err != nil {
		t.Fatal(err)
	}
	if three != string(shipped) {
		t.Errorf("for n1…n3 the recipe changed:\n%s", three)
	}
	five, err := haproxyForNodes(string(shipped), 5)
	if err != nil {
		t.Fatal(err)
	}
	var servers, bosh, poll []string
	for _, m := range regexp.MustCompile(`(?m)^\s*server (n\d+) "\$\{BOSHD_(N\d+)\}"`).FindAllStringSubmatch(five, -1) {
		servers = append(servers, m[1]+"="+m[2])
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*use-server (n\d+) if .*\[\\x22\\x27\](n\d+)\\\.`).FindAllStringSubmatch(five, -1) {
		bosh = append(bosh, m[1]+"="+m[2])
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*use-server (n\d+) if .*'\^(n\d+):'`).FindAllStringSubmatch(five, -1) {
		poll = append(poll, m[1]+"="+m[2])
	}
	want := []string{"n1=n1", "n2=n2", "n3=n3", "n4=n4", "n5=n5"}
	wantSrv := []string{"n1=N1", "n2=N2", "n3=N3", "n4=N4", "n5=N5"}
	if !slices.Equal(bosh, want) || !slices.Equal(poll, want) || !slices.Equal(servers, wantSrv) {
		t.Errorf("BOSH rules %v, XEP-0025 rules %v, servers %v", bosh, poll, servers)
	}
	if _, err := haproxyForNodes("global\n", 2); err == nil {
		t.Error("a file without the n1 lines was extended")
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Log("haproxy not installed: its check of the file is skipped")
		return
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(five), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("haproxy", "-c", "-f", path)
	cmd.Env = append(os.Environ(), "BOSHD_FRONTEND=127.0.0.1:1", "HAPROXY_SOCKET="+filepath.Join(t.TempDir(), "s"))
	for i := 1; i <= 5; i++ {
		cmd.Env = append(cmd.Env, "BOSHD_N"+string(rune('0'+i))+"=127.0.0.1:2")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("haproxy -c: %v\n%s", err, out)
	}
}

// TestBarrier: a phase is released when every live process waits at it;
// a process that ends is not waited for.
func TestBarrier(t *testing.T) {
	b := barrier{n: 3}
	steps := []struct {
		i     int
		alive bool
		want  []int
	}{
		{0, true, nil},
		{2, true, nil},
		{1, true, []int{0, 1, 2}}, // all three at the phase
		{1, true, nil},
		{0, false, nil},        // process 0 ended
		{2, true, []int{1, 2}}, // the two live ones
		{1, false, nil},
		{2, false, nil},
	}
	for k, s := range steps {
		if got := b.event(s.i, "x", s.alive); !slices.Equal(got, s.want) {
			t.Errorf("event %d (%d alive=%v): release %v, want %v", k, s.i, s.alive, got, s.want)
		}
	}
	if !b.over() {
		t.Error("not over after every process ended")
	}
}

func testResult(ok int) *result {
	r := &result{}
	r.Setup.Ok = ok
	add := func(name string, before, after int64, files int, setupS, idleS float64) {
		r.Memory = append(r.Memory, struct {
			Name           string `json:"name"`
			RSSBeforeKB    int64  `json:"rss_before_kb"`
			RSSAfterKB     int64  `json:"rss_after_kb"`
			OpenFilesAfter int    `json:"open_files_after"`
		}{name, before, after, files})
		r.IdleCPU = append(r.IdleCPU, struct {
			Name         string  `json:"name"`
			SetupSeconds float64 `json:"setup_seconds"`
			IdleSeconds  float64 `json:"idle_seconds"`
		}{name, setupS, idleS})
	}
	// Two boshd nodes of 20 and 30 MB growth, one Prosody of 35 MB, over
	// 1000 sessions: 50 and 35 KB per session.
	add("boshd-n1", 10_000, 30_000, 1000, 1, 0.1)
	add("boshd-n2", 10_000, 40_000, 1100, 1, 0.1)
	add("prosody-1", 5_000, 40_000, 1050, 4, 0.2)
	r.Phases = make([]struct {
		Rate                       float64 `json:"rate"`
		Sent, Delivered, Lost      int64
		Duplicated, SendErrors     int64
		P50Ms, P90Ms, P99Ms, MaxMs float64
		AchievedRate               float64 `json:"achieved_rate"`
		GeneratorCPUSeconds        float64 `json:"generator_cpu_s"`
		LoadAvg1                   float64 `json:"loadavg1"`
		CPU                        []struct {
			Name    string  `json:"name"`
			Seconds float64 `json:"seconds"`
		} `json:"cpu"`
	}, 1)
	r.Phases[0].Sent, r.Phases[0].Delivered = 2000, 2000
	r.Phases[0].CPU = []struct {
		Name    string  `json:"name"`
		Seconds float64 `json:"seconds"`
	}{{"boshd-n1", 0.3}, {"boshd-n2", 0.3}, {"prosody-1", 1}}
	return r
}

func TestRoleCosts(t *testing.T) {
	r := testResult(1000)
	bd := r.roleCosts(roleBoshd, 10)
	up := r.roleCosts(roleUpstream, 10)
	lb := r.roleCosts(roleLB, 10)
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if bd.procs != 2 || !near(bd.kbPerSession, 50) || bd.maxFiles != 1100 || !near(bd.maxRSSMB, 40_000.0/1024) {
		t.Errorf("boshd %+v", bd)
	}
	if !near(bd.loginMs, 2) || !near(bd.idleUs, 20) || !near(bd.msgMs, 0.3) {
		t.Errorf("boshd CPU %+v: want 2 ms per login, 20 µs per session per s, 0.3 ms per message", bd)
	}
	if up.procs != 1 || !near(up.kbPerSession, 35) || !near(up.msgMs, 0.5) {
		t.Errorf("upstream %+v", up)
	}
	if lb.procs != 0 {
		t.Errorf("haproxy %+v, want none", lb)
	}
}

func TestClean(t *testing.T) {
	r := testResult(1000)
	if ok, why := r.clean(1000); !ok {
		t.Errorf("clean step reported %q", why)
	}
	if ok, why := r.clean(1002); ok || !strings.Contains(why, "1000 of 1002") {
		t.Errorf("short step: %v %q", ok, why)
	}
	r.Phases[0].Lost = 3
	if ok, why := r.clean(1000); ok || !strings.Contains(why, "3 lost") {
		t.Errorf("lossy step: %v %q", ok, why)
	}
}

// TestEstimate scales 50 KB and 35 KB per session to a million sessions:
// 47.7 and 33.4 GiB; boshd's 20 µs per idle session per s and 0.3 ms per
// message at 1e6/60 messages/s are 20 + 5 cores.
func TestEstimate(t *testing.T) {
	st := []step{{meta: stepMeta{N: 1000, Upstream: "prosody", SettleS: 10}, r: testResult(1000)}}
	out := estimate(st, 1.0/60)
	for _, want := range []string{
		"| HAProxy (load balancer) | 223 | – | – | not measured in this run |",
		"| boshd | 112 | 47.7 | 25.0 |",
		"| prosody | 53 | 33.4 |",
		"| all measured tiers | | 81.1 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("estimate lacks %q:\n%s", want, out)
		}
	}
	if got := estimate([]step{{meta: stepMeta{N: 2}}}, 1); !strings.Contains(got, "nothing to estimate") {
		t.Errorf("estimate without results: %q", got)
	}
}
