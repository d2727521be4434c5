package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"boshd/bench/internal/report"
)

// writeDoc replaces the results section of c.out with the tables.
func writeDoc(c config, results map[key][]*result, versions map[string]string) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n", report.BeginMark)
	p("_Written by `go run ./bench/compare %s` on %s._\n\n", strings.Join(os.Args[1:], " "), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	// The machine of the runs, kept beside their results (a -report-only
	// may be drawn elsewhere).
	if raw, err := os.ReadFile(filepath.Join(c.jsonDir, "machine.txt")); err == nil {
		p("- Machine: %s\n", strings.TrimSpace(string(raw)))
	} else {
		p("- Machine: not recorded with the results; this report was drawn on %s\n", report.Machine())
	}
	for _, k := range []string{"prosody", "ejabberd"} {
		if v, ok := versions[k]; ok {
			p("- %s %s (Debian package)\n", k, v)
		}
	}
	if raw, err := os.ReadFile(filepath.Join(c.jsonDir, "commits.txt")); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			p("- build of the run `%s`\n", l)
		}
	} else {
		p("- boshd: %s\n", report.GitHead())
	}
	p("- up to %d run(s) per row (the setup table gives each row's count), median quoted; message phases of %s at %s messages/s on the same sessions; setup concurrency %d\n\n",
		c.runs, c.duration, c.rates, c.conc)

	var rates []float64
	for _, f := range strings.Split(c.rates, ",") {
		r, _ := strconv.ParseFloat(strings.TrimSpace(f), 64)
		rates = append(rates, r)
	}
	// peersOf lists the peers of k's row: the other BOSH endpoints with
	// the same XMPP server behind them (or inside them), at the same N.
	peersOf := func(k key) []key {
		var ks []key
		for _, t := range []string{"prosody-bosh", "ejabberd-bosh", nxbTarget} {
			if serverOf(t) == serverOf(k.target) && len(results[key{t, k.n}]) > 0 {
				ks = append(ks, key{t, k.n})
			}
		}
		return ks
	}
	// ratio formats boshd's value over the best peer's; lower says whether
	// lower is better.
	ratio := func(k key, f func(*result) (float64, bool), lower bool) string {
		if !isBoshd(k.target) {
			return ""
		}
		v, nv := median(results[k], f)
		best, found := 0.0, false
		for _, pk := range peersOf(k) {
			pv, np := median(results[pk], f)
			if np == 0 || pv <= 0 {
				continue
			}
			if !found || lower && pv < best || !lower && pv > best {
				best, found = pv, true
			}
		}
		if !found || nv == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", v/best)
	}
	rows := func(fn func(k key)) {
		for _, n := range c.ns {
			for _, t := range allTargets {
				k := key{t, n}
				if len(results[k]) > 0 {
					fn(k)
				}
			}
		}
	}
	f1 := func(v float64, n int) string {
		if n == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f", v)
	}
	f2 := func(v float64, n int) string {
		if n == 0 {
			return "–"
		}
		return fmt.Sprintf("%.3f", v)
	}

	writeTargets(p, c.ns, rates, results)
	p("### Session setup\n\nSessions created and logged in (SASL PLAIN, restart, bind, presence) per second, and the time of one login. Ratio: boshd's sessions/s over the best peer's with the same server (higher is better).\n\n")
	p("| target | N | runs | logged in (median) | sessions/s | login p50 ms | login p99 ms | ratio |\n|---|---|---|---|---|---|---|---|\n")
	rows(func(k key) {
		rs := results[k]
		ok, _ := median(rs, func(r *result) (float64, bool) { return float64(r.Setup.Ok), true })
		ps, n := median(rs, func(r *result) (float64, bool) { return r.Setup.PerSecond, true })
		l50, _ := median(rs, func(r *result) (float64, bool) { return r.Setup.LoginP50Ms, r.Setup.Ok > 0 })
		l99, _ := median(rs, func(r *result) (float64, bool) { return r.Setup.LoginP99Ms, r.Setup.Ok > 0 })
		p("| %s | %d | %d | %.0f | %s | %s | %s | %s |\n", k.target, k.n, len(rs), ok, f1(ps, n), f1(l50, n), f1(l99, n),
			ratio(k, func(r *result) (float64, bool) { return r.Setup.PerSecond, true }, false))
	})

	p("\n### Memory per idle logged-in session\n\nRSS growth of each process from before setup to after %s idle, divided by the sessions logged in (KiB). CM is the connection manager in front of the server (boshd, or node-xmpp-bosh), and the XMPP server behind it is measured too; the ratio compares boshd + server with the best peer's total with the same server (lower is better).\n\n", c.settle)
	p("| target | N | CM KiB | server KiB | total KiB | ratio |\n|---|---|---|---|---|---|\n")
	rows(func(k key) {
		rs := results[k]
		bd, nb := median(rs, mem(cmName(k.target)))
		sv, ns := median(rs, mem(serverOf(k.target)))
		tot, nt := median(rs, memTotal)
		p("| %s | %d | %s | %s | %s | %s |\n", k.target, k.n, f1(bd, nb), f1(sv, ns), f1(tot, nt), ratio(k, memTotal, true))
	})

	for _, rate := range rates {
		p("\n### Message latency at %.0f messages/s\n\nFrom the send of the request carrying the message to its arrival at the partner session (ms). Ratio: boshd's p99 over the best peer's with the same server (lower is better).\n\n", rate)
		p("Also shown: the rate achieved, boshload's own CPU seconds in the phase and the machine's load average at its end (median of runs).\n\n")
		p("| target | N | p50 | p90 | p99 | max | ratio p99 | achieved/s | boshload CPU s | load avg |\n|---|---|---|---|---|---|---|---|---|---|\n")
		rows(func(k key) {
			rs := results[k]
			v50, n := median(rs, lat(rate, "p50"))
			v90, _ := median(rs, lat(rate, "p90"))
			v99, _ := median(rs, lat(rate, "p99"))
			vmax, _ := median(rs, lat(rate, "max"))
			field := func(g func(i int, r *result) float64) func(*result) (float64, bool) {
				return func(r *result) (float64, bool) {
					i := phase(r, rate)
					if i < 0 {
						return 0, false
					}
					return g(i, r), true
				}
			}
			ach, na := median(rs, field(func(i int, r *result) float64 { return r.Phases[i].AchievedRate }))
			gen, ng := median(rs, field(func(i int, r *result) float64 { return r.Phases[i].GeneratorCPUSeconds }))
			la, nl := median(rs, field(func(i int, r *result) float64 { return r.Phases[i].LoadAvg1 }))
			p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", k.target, k.n, f1(v50, n), f1(v90, n), f1(v99, n), f1(vmax, n),
				ratio(k, lat(rate, "p99"), true), f1(ach, na), f1(gen, ng), f1(la, nl))
		})
	}

	p("\n### Delivery\n\nTotals over all runs (not medians): every lost or duplicated message counts. Send errors are requests that failed; sessions ended early were terminated before the close phase.\n\n")
	p("| target | N | rate | runs | sent | delivered | lost | duplicated | send errors | sessions ended early | setup failures |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	rows(func(k key) {
		for _, rate := range rates {
			var sent, del, lost, dup, serr, ended, sfail int64
			for _, r := range results[k] {
				ended += r.SessionsEnded
				sfail += int64(r.Setup.Failed)
				if i := phase(r, rate); i >= 0 {
					ph := r.Phases[i]
					sent, del, lost, dup, serr = sent+ph.Sent, del+ph.Delivered, lost+ph.Lost, dup+ph.Duplicated, serr+ph.SendErrors
				}
			}
			p("| %s | %d | %.0f | %d | %d | %d | %d | %d | %d | %d | %d |\n", k.target, k.n, rate, len(results[k]), sent, del, lost, dup, serr, ended, sfail)
		}
	})

	for _, rate := range rates {
		p("\n### CPU per delivered message at %.0f messages/s\n\nCPU time (user + system, /proc/PID/stat) of each process during the message phase divided by the messages delivered (ms); CM as above. It includes the cost of re-issuing the held requests that each message answers. Ratio: boshd + server over the best peer's total with the same server (lower is better).\n\n", rate)
		p("| target | N | CM ms | server ms | total ms | ratio |\n|---|---|---|---|---|---|\n")
		rows(func(k key) {
			rs := results[k]
			bd, nb := median(rs, cpu(rate, cmName(k.target)))
			sv, ns := median(rs, cpu(rate, serverOf(k.target)))
			tot, nt := median(rs, cpu(rate, ""))
			p("| %s | %d | %s | %s | %s | %s |\n", k.target, k.n, f2(bd, nb), f2(sv, ns), f2(tot, nt), ratio(k, cpu(rate, ""), true))
		})
	}
	if err := writeHeapProfiles(p, c.jsonDir); err != nil {
		return err
	}
	if err := writeProfiles(p, c.jsonDir); err != nil {
		return err
	}
	charts, err := writeCharts(c, results, rates)
	if err != nil {
		return err
	}
	if len(charts) > 0 {
		p("\n### Charts\n\nDrawn by the same command from the same medians (SVG files beside this one).\n\n")
		for _, ch := range charts {
			p("![%s](%s)\n\n", ch.title, ch.link)
		}
	}
	p("\n%s\n", report.EndMark)

	return report.ReplaceSection(c.out, b.String())
}

// cmName is the name of the connection manager's process in the results of
// target t: boshd, or node-xmpp-bosh for its target.
func cmName(t string) string {
	if t == nxbTarget {
		return nxbName
	}
	return "boshd"
}

// serverOf is the XMPP server of target t: "ejabberd" or "prosody", as
// its process is named in the results.
func serverOf(t string) string {
	if strings.Contains(t, "ejabberd") {
		return "ejabberd"
	}
	return "prosody"
}
