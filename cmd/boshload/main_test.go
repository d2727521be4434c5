package main

import (
	"os"
	"testing"
)

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, c := range []struct {
		p, want float64
	}{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {0, 1}} {
		if got := percentile(xs, c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of nothing = %v, want 0", got)
	}
}

func TestParsePIDs(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    []namedPID
		wantErr bool
	}{
		{"", nil, false},
		{"boshd=12,prosody=34", []namedPID{{"boshd", 12}, {"prosody", 34}}, false},
		{"56", []namedPID{{"pid56", 56}}, false},
		{"boshd=x", nil, true},
		{"boshd=-1", nil, true},
	} {
		got, err := parsePIDs(c.in)
		if (err != nil) != c.wantErr || len(got) != len(c.want) {
			t.Errorf("parsePIDs(%q) = %v, %v", c.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("parsePIDs(%q)[%d] = %v, want %v", c.in, i, got[i], c.want[i])
			}
		}
	}
}

// TestProcReaders reads this test process's own RSS and CPU time, which
// are positive, and a process that does not exist, which gives -1.
func TestProcReaders(t *testing.T) {
	x := 0
	for i := range 20_000_000 { // burn some CPU so that utime moves
		x += i
	}
	_ = x
	pids := []namedPID{{"self", os.Getpid()}, {"none", 1 << 30}}
	mem, cpu := readMem(pids), readCPU(pids)
	if mem[0] <= 0 || mem[1] != -1 {
		t.Errorf("readMem = %v, want [>0 -1]", mem)
	}
	if cpu[0] < 0 || cpu[1] != -1 {
		t.Errorf("readCPU = %v, want [>=0 -1]", cpu)
	}
	if n := openFiles(os.Getpid()); n < 3 {
		t.Errorf("openFiles(self) = %d, want at least 3", n)
	}
}
