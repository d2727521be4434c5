package main

// The figures the tables and charts quote, each drawn from one boshload
// result; median combines them over the runs of a row.

// phase is the index of r's message phase at rate, or -1.
func phase(r *result, rate float64) int {
	for i, ph := range r.Phases {
		if ph.Rate == rate {
			return i
		}
	}
	return -1
}

// mem is the RSS growth per session of the process called name.
func mem(name string) func(*result) (float64, bool) {
	return func(r *result) (float64, bool) {
		for _, m := range r.Memory {
			if m.Name == name {
				return m.PerSessionKB, true
			}
		}
		return 0, false
	}
}

// memTotal is the RSS growth per session of every measured process together.
func memTotal(r *result) (float64, bool) {
	s := 0.0
	for _, m := range r.Memory {
		s += m.PerSessionKB
	}
	return s, len(r.Memory) > 0
}

// cpu is the CPU per delivered message at rate of the process called name,
// or of every measured process together when name is "".
func cpu(rate float64, name string) func(*result) (float64, bool) {
	return func(r *result) (float64, bool) {
		i := phase(r, rate)
		if i < 0 {
			return 0, false
		}
		s, found := 0.0, false
		for _, c := range r.Phases[i].CPU {
			if name == "" || c.Name == name {
				s += c.MsPerDelivered
				found = true
			}
		}
		return s, found
	}
}

// lat is the latency percentile which ("p50", "p90", "p99" or "max") at rate.
func lat(rate float64, which string) func(*result) (float64, bool) {
	return func(r *result) (float64, bool) {
		i := phase(r, rate)
		if i < 0 || r.Phases[i].Delivered == 0 {
			return 0, false
		}
		ph := r.Phases[i]
		return map[string]float64{"p50": ph.P50Ms, "p90": ph.P90Ms, "p99": ph.P99Ms, "max": ph.MaxMs}[which], true
	}
}
