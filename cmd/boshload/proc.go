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
func readMem(pids []namedPID) []int64 { return perProcess(pids, rssKB) }

// readCPU returns utime+stime of each process in seconds, -1 when it
// cannot be read.
func readCPU(pids []namedPID) []float64 { return perProcess(pids, cpuSeconds) }

// perProcess reads one figure of each process, -1 where read fails.
func perProcess[T int64 | float64](pids []namedPID, read func(pid int) (T, bool)) []T {
	out := make([]T, len(pids))
	for i, p := range pids {
		v, ok := read(p.PID)
		if !ok {
			v = -1
		}
		out[i] = v
	}
	return out
}

// rssKB is the VmRSS line of /proc/PID/status.
func rssKB(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	_, rest, ok := strings.Cut(string(b), "\nVmRSS:")
	if !ok {
		return 0, false
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(f[0], 10, 64)
	return v, err == nil
}

// cpuSeconds is utime+stime of /proc/PID/stat.
func cpuSeconds(pid int) (float64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces; fields count from after ')'.
	j := bytes.LastIndexByte(b, ')')
	if j < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[j+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	return float64(u+s) / clockTicks, err1 == nil && err2 == nil
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
