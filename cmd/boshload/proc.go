package main

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (proc(5)); 100 on every Linux architecture Go supports.
const clockTicks = 100

// readMem returns the VmRSS of each process in KiB (proc(5)), -1 when it
// cannot be read.
func readMem(pids []namedPID) []int64 {
	out := make([]int64, len(pids))
	for i, p := range pids {
		out[i] = -1
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				f := strings.Fields(v)
				if len(f) > 0 {
					out[i], _ = strconv.ParseInt(f[0], 10, 64)
				}
			}
		}
	}
	return out
}

// readCPU returns utime+stime of each process in seconds, -1 when it
// cannot be read.
func readCPU(pids []namedPID) []float64 {
	out := make([]float64, len(pids))
	for i, p := range pids {
		out[i] = -1
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat")
		if err != nil {
			continue
		}
		// The command name may hold spaces; fields count from after ')'.
		j := bytes.LastIndexByte(b, ')')
		if j < 0 {
			continue
		}
		f := strings.Fields(string(b[j+1:]))
		// f[0] is field 3 (state); utime is field 14, stime field 15.
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[i] = float64(u+s) / clockTicks
	}
	return out
}

// openFiles counts the open file descriptors of a process, -1 when
// unreadable.
func openFiles(pid int) int {
	es, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	return len(es)
}

// percentile returns the p-th percentile (nearest rank) of xs, 0 for none.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(p/100*float64(len(s))+0.5) - 1
	k = max(0, min(k, len(s)-1))
	return s[k]
}

// loadAvg1 is the one-minute load average, -1 when unreadable.
func loadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
