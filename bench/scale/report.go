package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"boshd/bench/chart"
	"boshd/bench/internal/report"
)

const (
	password = "secret"
)

// Sessions one process can hold under the 20 000-file limit, with room
// for a sending client's second connection and the process's own files:
// boshd pays two files per HTTP/1.1 session (client connection, upstream
// stream; 18 026 files at 9 000 sessions in docs/benchmarks.md), an XMPP
// server one (its c2s connection), HAProxy four (two client and two
// server connections while a send and a held request are both open).
const (
	perProcessBoshd    = 9000
	perProcessUpstream = 19000
	perProcessHAProxy  = 4500
)

// result is the part of boshload's (merged) JSON the report uses.
type result struct {
	Processes int `json:"processes"`
	Setup     struct {
		Ok, Failed int
		Seconds    float64
		PerSecond  float64 `json:"per_second"`
		LoginP50Ms float64 `json:"login_p50_ms"`
		LoginP99Ms float64 `json:"login_p99_ms"`
		FirstError string  `json:"first_error"`
	} `json:"setup"`
	Memory []struct {
		Name           string `json:"name"`
		RSSBeforeKB    int64  `json:"rss_before_kb"`
		RSSAfterKB     int64  `json:"rss_after_kb"`
		OpenFilesAfter int    `json:"open_files_after"`
	} `json:"memory"`
	IdleCPU []struct {
		Name         string  `json:"name"`
		SetupSeconds float64 `json:"setup_seconds"`
		IdleSeconds  float64 `json:"idle_seconds"`
	} `json:"idle_cpu"`
	Phases []struct {
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
	} `json:"phases"`
	SessionsEnded int64  `json:"sessions_ended_early"`
	Error         string `json:"error"`
}

func readResult(path string) (*result, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// clean says whether a step held all n sessions and lost nothing, and
// why not.
func (r *result) clean(n int) (bool, string) {
	var why []string
	if r.Setup.Ok < n {
		why = append(why, fmt.Sprintf("%d of %d logged in", r.Setup.Ok, n))
	}
	if r.SessionsEnded > 0 {
		why = append(why, fmt.Sprintf("%d sessions ended early", r.SessionsEnded))
	}
	for _, ph := range r.Phases {
		if ph.Lost > 0 || ph.Duplicated > 0 {
			why = append(why, fmt.Sprintf("%d lost, %d duplicated of %d", ph.Lost, ph.Duplicated, ph.Sent))
		}
	}
	if len(why) == 0 {
		return true, "all logged in, nothing lost"
	}
	return false, strings.Join(why, "; ")
}

// Roles of the measured processes, by the name prefix bench/scale gives
// them (boshd-n1, prosody-1, ejabberd-2, haproxy-1).
const (
	roleBoshd    = "boshd"
	roleUpstream = "upstream"
	roleLB       = "haproxy"
)

func roleOf(name string) string {
	switch {
	case strings.HasPrefix(name, "boshd"):
		return roleBoshd
	case strings.HasPrefix(name, "haproxy"):
		return roleLB
	}
	return roleUpstream
}

// costs are one step's figures per role.
type costs struct {
	procs        int
	kbPerSession float64 // RSS growth over the step's sessions, all processes of the role
	maxRSSMB     float64 // the largest process's RSS after setup
	maxFiles     int     // the most open files of one process
	loginMs      float64 // CPU ms per login (setup phase)
	idleUs       float64 // CPU µs per idle session per second
	msgMs        float64 // CPU ms per delivered message
}

// roleCosts adds up the figures of role's processes in r.
func (r *result) roleCosts(role string, settleS float64) costs {
	var c costs
	ok := float64(r.Setup.Ok)
	if ok == 0 {
		return c
	}
	for _, m := range r.Memory {
		if roleOf(m.Name) != role {
			continue
		}
		c.procs++
		c.kbPerSession += float64(m.RSSAfterKB-m.RSSBeforeKB) / ok
		c.maxRSSMB = max(c.maxRSSMB, float64(m.RSSAfterKB)/1024)
		c.maxFiles = max(c.maxFiles, m.OpenFilesAfter)
	}
	for _, p := range r.IdleCPU {
		if roleOf(p.Name) == role {
			c.loginMs += p.SetupSeconds * 1000 / ok
			if settleS > 0 {
				c.idleUs += p.IdleSeconds * 1e6 / ok / settleS
			}
		}
	}
	if len(r.Phases) > 0 && r.Phases[0].Delivered > 0 {
		for _, p := range r.Phases[0].CPU {
			if roleOf(p.Name) == role {
				c.msgMs += p.Seconds * 1000 / float64(r.Phases[0].Delivered)
			}
		}
	}
	return c
}

// step is one step's record for the report.
type step struct {
	meta stepMeta
	r    *result
}

// reportFromDir reads the steps kept in c.jsonDir and writes the report.
func reportFromDir(c config) error {
	metas, _ := filepath.Glob(filepath.Join(c.jsonDir, "step-n*.meta.json"))
	var steps []step
	for _, p := range metas {
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var m stepMeta
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		r, err := readResult(filepath.Join(c.jsonDir, fmt.Sprintf("step-n%d.json", m.N)))
		if err != nil {
			r = nil // a step that left no result is still reported
		}
		steps = append(steps, step{m, r})
	}
	if len(steps) == 0 {
		return fmt.Errorf("no steps in %s", c.jsonDir)
	}
	slices.SortFunc(steps, func(a, b step) int { return a.meta.N - b.meta.N })
	return writeReport(c, steps)
}

// writeReport replaces the results section of c.out and draws the charts.
func writeReport(c config, steps []step) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m0 := steps[0].meta
	p("%s\n", report.BeginMark)
	p("_Written by `go run ./bench/scale %s` on %s._\n\n", strings.Join(os.Args[1:], " "), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	p("- Machine: %s\n", m0.Machine)
	p("- boshd: %s\n", m0.Commit)
	p("- Fleet: %d boshd nodes, %d %s %s, %d HAProxy; sessions spread by boshload over %s; message phase of %.0f s at %.0f messages/s; %.0f s idle before memory is read\n",
		m0.Nodes, m0.Servers, m0.Upstream, plural(m0.Servers, "process", "processes"), m0.LBs, map[bool]string{true: "the HAProxy frontends", false: "the nodes"}[m0.LBs > 0], m0.DurationS, m0.Rate, m0.SettleS)
	largest := steps[len(steps)-1].meta.N
	if largest < 5000 {
		p("\n**A small run (at most %d sessions), made to prove the tools: its per-session figures are dominated by fixed costs and are not to be quoted, nor the estimate below.**\n", largest)
	}

	p("\n### Sessions, logins and messages\n\nEach step starts every process afresh. Login: SASL PLAIN, restart, bind and presence, as Strophe.js does, %d at a time per boshload process. Latency: from handing a message to the sender's session to its arrival at the partner's.\n\n", c.conc)
	p("| N | boshload processes | logged in | failed | logins/s | login p50 ms | login p99 ms | sent | delivered | lost | dup | p50 ms | p90 ms | p99 ms | max ms | ended early | clean |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range steps {
		if s.r == nil {
			p("| %d | %d | – | – | – | – | – | – | – | – | – | – | – | – | – | – | no: %s |\n", s.meta.N, s.meta.Loaders, oneLine(s.meta.StepError))
			continue
		}
		r := s.r
		var sent, del, lost, dup int64
		var p50, p90, p99, mx float64
		if len(r.Phases) > 0 {
			ph := r.Phases[0]
			sent, del, lost, dup, p50, p90, p99, mx = ph.Sent, ph.Delivered, ph.Lost, ph.Duplicated, ph.P50Ms, ph.P90Ms, ph.P99Ms, ph.MaxMs
		}
		ok, why := r.clean(s.meta.N)
		verdict := "yes"
		if !ok {
			verdict = "no: " + why
		}
		p("| %d | %d | %d | %d | %.0f | %.0f | %.0f | %d | %d | %d | %d | %.1f | %.1f | %.1f | %.1f | %d | %s |\n",
			s.meta.N, max(r.Processes, s.meta.Loaders), r.Setup.Ok, r.Setup.Failed, r.Setup.PerSecond, r.Setup.LoginP50Ms, r.Setup.LoginP99Ms,
			sent, del, lost, dup, p50, p90, p99, mx, r.SessionsEnded, verdict)
	}

	p("\n### Memory and CPU per session\n\nRSS growth of every process of a tier from before the logins to after the idle time, summed over the tier and divided by the sessions logged in (KiB); the largest process's RSS and open files; CPU (user + system) per login, per idle session and second, and per delivered message, summed over the tier.\n\n")
	p("| N | tier | processes | KiB per session | largest RSS MiB | most open files | CPU ms per login | CPU µs per idle session per s | CPU ms per message |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range steps {
		if s.r == nil {
			continue
		}
		for _, role := range []string{roleBoshd, roleUpstream, roleLB} {
			k := s.r.roleCosts(role, s.meta.SettleS)
			if k.procs == 0 {
				continue
			}
			name := role
			if role == roleUpstream {
				name = s.meta.Upstream
			}
			p("| %d | %s | %d | %.1f | %.0f | %d | %.3f | %.2f | %.3f |\n", s.meta.N, name, k.procs, k.kbPerSession, k.maxRSSMB, k.maxFiles, k.loginMs, k.idleUs, k.msgMs)
		}
	}

	charts, err := drawCharts(c, steps)
	if err != nil {
		return err
	}
	p("\n### Curves\n\nDrawn by the same command (SVG files beside this one).\n\n")
	for _, ch := range charts {
		p("![%s](%s)\n\n", ch.title, ch.link)
	}

	p("\n### One million sessions, on paper\n\n")
	p("%s\n", estimate(steps, c.msgRateEstimate))
	p("\n%s\n", report.EndMark)
	return report.ReplaceSection(c.out, b.String())
}

// estimate scales the per-session costs of the largest clean step (else
// the largest step) to one million sessions.
func estimate(steps []step, msgPerSessionS float64) string {
	var s *step
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].r != nil {
			if ok, _ := steps[i].r.clean(steps[i].meta.N); ok || s == nil {
				s = &steps[i]
				if ok {
					break
				}
			}
		}
	}
	if s == nil {
		return "No step left a result: nothing to estimate from."
	}
	const million = 1e6
	rate := million * msgPerSessionS
	var b strings.Builder
	fmt.Fprintf(&b, "From the step at N = %d: each tier's measured memory per session, CPU per idle session and CPU per message, times one million sessions exchanging %.0f messages/s in all (one per session every %.0f s). The process counts follow from the 20 000-file limit per process (boshd %d sessions, XMPP server %d, HAProxy %d per process); with a higher limit, memory and cores decide instead. Kernel socket buffers and the clients' side are not included.\n\n",
		s.meta.N, rate, 1/msgPerSessionS, perProcessBoshd, perProcessUpstream, perProcessHAProxy)
	b.WriteString("| tier | processes (file limit) | memory GiB | cores (idle + messages) | measured here |\n|---|---|---|---|---|\n")
	var totMem, totCores float64
	for _, t := range []struct {
		role, name string
		per        int
	}{{roleLB, "HAProxy (load balancer)", perProcessHAProxy}, {roleBoshd, "boshd", perProcessBoshd}, {roleUpstream, s.meta.Upstream, perProcessUpstream}} {
		k := s.r.roleCosts(t.role, s.meta.SettleS)
		if k.procs == 0 {
			fmt.Fprintf(&b, "| %s | %d | – | – | not measured in this run |\n", t.name, int(math.Ceil(million/float64(t.per))))
			continue
		}
		mem := million * k.kbPerSession / 1024 / 1024
		cores := million*k.idleUs/1e6 + rate*k.msgMs/1000
		totMem += mem
		totCores += cores
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.1f KiB and %.3f ms per message per session |\n", t.name, int(math.Ceil(million/float64(t.per))), mem, cores, k.kbPerSession, k.msgMs)
	}
	fmt.Fprintf(&b, "| all measured tiers | | %.1f | %.1f | |\n", totMem, totCores)
	fmt.Fprintf(&b, "\nOn machines like this one (%d cores, %.0f GiB), that is at least %d of them for memory and %d for CPU, before any headroom for bursts, logins after a failover (the CPU per login above, times the sessions of a lost node) or the operating system.\n",
		runtime.NumCPU(), report.MemGiB(), int(math.Ceil(totMem/math.Max(1, report.MemGiB()*0.8))), int(math.Ceil(totCores/float64(runtime.NumCPU()))))
	return b.String()
}

// drawCharts draws memory per session, latency and CPU per message against
// N into img/ beside c.out.
func drawCharts(c config, steps []step) ([]chartFile, error) {
	dir := filepath.Join(filepath.Dir(c.out), "img")
	base := strings.TrimSuffix(filepath.Base(c.out), filepath.Ext(c.out))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []chartFile
	write := func(name, title string, svg []byte) error {
		out = append(out, chartFile{title, "img/" + name})
		return os.WriteFile(filepath.Join(dir, name), svg, 0o644)
	}
	upstream := steps[0].meta.Upstream
	mem := chart.Line{Title: "Memory per logged-in session, by tier", XLabel: "concurrent logged-in sessions", YLabel: "KiB per session"}
	cpu := chart.Line{Title: "CPU per delivered message, by tier", XLabel: "concurrent logged-in sessions", YLabel: "CPU ms per message"}
	for _, role := range []string{roleBoshd, roleUpstream, roleLB} {
		name := role
		if role == roleUpstream {
			name = upstream
		}
		ms, cs := chart.Series{Name: name}, chart.Series{Name: name}
		for _, s := range steps {
			if s.r == nil {
				continue
			}
			if k := s.r.roleCosts(role, s.meta.SettleS); k.procs > 0 {
				n := float64(s.meta.N)
				ms.X, ms.Y = append(ms.X, n), append(ms.Y, k.kbPerSession)
				cs.X, cs.Y = append(cs.X, n), append(cs.Y, k.msgMs)
			}
		}
		if len(ms.X) > 0 {
			mem.Series = append(mem.Series, ms)
			cpu.Series = append(cpu.Series, cs)
		}
	}
	lat := chart.Line{Title: "Login and message latency", XLabel: "concurrent logged-in sessions", YLabel: "ms (log scale)", LogY: true}
	for _, q := range []struct {
		name string
		f    func(r *result) float64
	}{
		{"login p50", func(r *result) float64 { return r.Setup.LoginP50Ms }},
		{"login p99", func(r *result) float64 { return r.Setup.LoginP99Ms }},
		{"message p50", func(r *result) float64 { return phase0(r, func(p50, _ float64) float64 { return p50 }) }},
		{"message p99", func(r *result) float64 { return phase0(r, func(_, p99 float64) float64 { return p99 }) }},
	} {
		sr := chart.Series{Name: q.name}
		for _, s := range steps {
			if s.r != nil {
				sr.X, sr.Y = append(sr.X, float64(s.meta.N)), append(sr.Y, q.f(s.r))
			}
		}
		lat.Series = append(lat.Series, sr)
	}
	for _, w := range []struct {
		name string
		c    *chart.Line
	}{{base + "-memory.svg", &mem}, {base + "-latency.svg", &lat}, {base + "-cpu.svg", &cpu}} {
		if err := write(w.name, w.c.Title, w.c.SVG()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func phase0(r *result, f func(p50, p99 float64) float64) float64 {
	if len(r.Phases) == 0 || r.Phases[0].Delivered == 0 {
		return math.NaN()
	}
	return f(r.Phases[0].P50Ms, r.Phases[0].P99Ms)
}

// chartFile is a chart written beside the report: its title and its path
// relative to the report.
type chartFile struct{ title, link string }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "|", "/")
}
