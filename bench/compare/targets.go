package main

import "fmt"

// Issue 12's targets, checked against the medians of the same runs the
// tables quote. Each check needs the rows it compares; a check whose rows
// were not run is left out.
const (
	memTargetKiB     = 19  // boshd's own RSS per idle logged-in session
	memStretchKiB    = 12  // the stretch target
	cpuTargetRatio   = 0.5 // boshd's CPU per message over node-xmpp-bosh's
	p99TargetRatio   = 1.0 // boshd's p99 over node-xmpp-bosh's
	ejabberdP99Slack = 1.0 // ms boshd + ejabberd's p99 may exceed mod_bosh's
	plainProsody     = "boshd+prosody"
	plainEjabberd    = "boshd+ejabberd"
	tlsProsody       = "boshd-tls+prosody"
	h2Prosody        = "boshd-h2+prosody"
	ejabberdOwnBOSH  = "ejabberd-bosh"
	verdictMet       = "yes"
	verdictNotMet    = "**no**"
)

// writeTargets writes the table of targets: for each N (and rate), what was
// measured, the target, and whether it is met. Memory is read after the
// settle time, CPU and latency in each message phase.
func writeTargets(p func(string, ...any), ns []int, rates []float64, results map[key][]*result) {
	type row struct{ n, rate, what, measured, target, met string }
	var rows []row
	add := func(n int, rate float64, what, measured, target string, met bool) {
		r := row{n: fmt.Sprint(n), rate: "–", what: what, measured: measured, target: target, met: verdictNotMet}
		if rate > 0 {
			r.rate = fmt.Sprintf("%.0f", rate)
		}
		if met {
			r.met = verdictMet
		}
		rows = append(rows, r)
	}
	// both returns the medians of f over the rows of targets a and b at n,
	// and whether both have one.
	both := func(a, b string, n int, f func(*result) (float64, bool)) (float64, float64, bool) {
		va, na := median(results[key{a, n}], f)
		vb, nb := median(results[key{b, n}], f)
		return va, vb, na > 0 && nb > 0
	}
	for _, n := range ns {
		if v, k := median(results[key{plainProsody, n}], mem("boshd")); k > 0 {
			add(n, 0, "boshd's RSS per idle logged-in session (HTTP/1.1, plain-TCP upstream)",
				fmt.Sprintf("%.1f KiB", v), fmt.Sprintf("≤ %d KiB", memTargetKiB), v <= memTargetKiB)
			add(n, 0, "the same, stretch target", fmt.Sprintf("%.1f KiB", v), fmt.Sprintf("≤ %d KiB", memStretchKiB), v <= memStretchKiB)
		}
		if b, e, ok := both(plainEjabberd, ejabberdOwnBOSH, n, memTotal); ok {
			add(n, 0, "boshd + ejabberd's c2s against ejabberd's own BOSH, RSS per session",
				fmt.Sprintf("%.1f against %.1f KiB (%.2f×)", b, e, b/e), "≤ 1×", b <= e)
		}
		for _, rate := range rates {
			b, nb := median(results[key{plainProsody, n}], cpu(rate, "boshd"))
			if x, nx := median(results[key{nxbTarget, n}], cpu(rate, nxbName)); nb > 0 && nx > 0 {
				add(n, rate, "boshd's CPU per delivered message against node-xmpp-bosh's (each process alone)",
					fmt.Sprintf("%.3f against %.3f ms (%.2f×)", b, x, b/x), fmt.Sprintf("≤ %.1f×", cpuTargetRatio), b/x <= cpuTargetRatio)
			}
			if b, x, ok := both(plainProsody, nxbTarget, n, lat(rate, "p99")); ok {
				add(n, rate, "p99 latency through boshd against node-xmpp-bosh (both before Prosody)",
					fmt.Sprintf("%.1f against %.1f ms (%.2f×)", b, x, b/x), fmt.Sprintf("≤ %.0f×", p99TargetRatio), b/x <= p99TargetRatio)
			}
			if b, e, ok := both(plainEjabberd, ejabberdOwnBOSH, n, cpu(rate, "")); ok {
				add(n, rate, "boshd + ejabberd's c2s against ejabberd's own BOSH, CPU per delivered message",
					fmt.Sprintf("%.3f against %.3f ms (%.2f×)", b, e, b/e), "≤ 1×", b <= e)
			}
			if b, e, ok := both(plainEjabberd, ejabberdOwnBOSH, n, lat(rate, "p99")); ok {
				add(n, rate, "p99 latency through boshd + ejabberd against ejabberd's own BOSH",
					fmt.Sprintf("%.1f against %.1f ms (%+.1f ms)", b, e, b-e), fmt.Sprintf("≤ +%.0f ms", ejabberdP99Slack), b-e <= ejabberdP99Slack)
			}
			lost, seen := int64(0), false
			for k, rs := range results {
				if k.n != n || !isBoshd(k.target) {
					continue
				}
				for _, r := range rs {
					if i := phase(r, rate); i >= 0 {
						lost += r.Phases[i].Lost
						seen = true
					}
				}
			}
			if seen {
				add(n, rate, "messages lost by boshd, every boshd row and run", fmt.Sprint(lost), "0", lost == 0)
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	p("### Targets of issue 12\n\nChecked by the same command against the medians below (memory after the settle time, CPU and latency in the message phase).\n\n")
	p("| N | rate | what | measured | target | met |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		p("| %s | %s | %s | %s | %s | %s |\n", r.n, r.rate, r.what, r.measured, r.target, r.met)
	}
	p("\n")
	writeVariants(p, ns, rates, results)
}

// writeVariants writes what STARTTLS to the server and HTTP/2 to the
// client cost boshd against the plain HTTP/1.1 target in the same runs.
func writeVariants(p func(string, ...any), ns []int, rates []float64, results map[key][]*result) {
	type variant struct{ target, name string }
	variants := []variant{{tlsProsody, "STARTTLS to Prosody"}, {h2Prosody, "HTTP/2 (TLS) from the client"}}
	header := false
	defer func() {
		if header {
			p("\n")
		}
	}()
	for _, n := range ns {
		base := results[key{plainProsody, n}]
		vb, nb := median(base, mem("boshd"))
		if nb == 0 {
			continue
		}
		for _, v := range variants {
			rs := results[key{v.target, n}]
			vm, nm := median(rs, mem("boshd"))
			if nm == 0 {
				continue
			}
			if !header {
				p("What a variant costs boshd beside plain HTTP/1.1 and a plain-TCP upstream (%s) in the same runs:\n\n", plainProsody)
				p("| N | variant | boshd KiB per session | difference | rate | boshd ms CPU per message | ratio |\n|---|---|---|---|---|---|---|\n")
				header = true
			}
			for _, rate := range rates {
				cb, _ := median(base, cpu(rate, "boshd"))
				cv, ncv := median(rs, cpu(rate, "boshd"))
				cpuCell, ratioCell := "–", "–"
				if ncv > 0 && cb > 0 {
					cpuCell = fmt.Sprintf("%.3f (plain %.3f)", cv, cb)
					ratioCell = fmt.Sprintf("%.2f×", cv/cb)
				}
				p("| %d | %s | %.1f (plain %.1f) | %+.1f | %.0f | %s | %s |\n", n, v.name, vm, vb, vm-vb, rate, cpuCell, ratioCell)
			}
		}
	}
}
