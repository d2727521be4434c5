package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// TestClassify puts each kind of stack (leaf first) in its row.
func TestClassify(t *testing.T) {
	tests := []struct {
		stack []string
		want  string
	}{
		{[]string{"internal/runtime/syscall/linux.Syscall6", "syscall.RawSyscall6", "syscall.Syscall", "syscall.write", "internal/poll.(*FD).Write", "net/http.(*response).finishRequest"}, whereWrite},
		{[]string{"internal/runtime/syscall/linux.Syscall6", "syscall.RawSyscall6", "syscall.Syscall", "syscall.read", "boshd/bosh/internal/held.readArrived"}, whereRead},
		{[]string{"internal/runtime/syscall/linux.Syscall6", "internal/runtime/syscall/linux.EpollWait", "runtime.netpoll", "runtime.findRunnable", "runtime.schedule"}, whereEpollWait},
		{[]string{"internal/runtime/syscall/linux.Syscall6", "syscall.RawSyscall6", "golang.org/x/sys/unix.EpollCtl", "boshd/xmppconn.(*epoll).add"}, whereEpollCtl},
		{[]string{"internal/runtime/syscall/linux.Syscall6", "syscall.RawSyscall6", "syscall.EpollCtl", "boshd/bosh/internal/held.(*watcher).add"}, whereEpollCtl},
		{[]string{"internal/runtime/syscall/linux.Syscall6", "syscall.Syscall6", "syscall.EpollWait", "boshd/bosh/internal/held.(*watcher).run"}, whereEpollWait},
		{[]string{"internal/runtime/syscall/linux.Syscall6", "syscall.Syscall6", "golang.org/x/sys/unix.EpollWait", "boshd/xmppconn.(*epoll).run"}, whereEpollWait},
		{[]string{"internal/runtime/syscall/linux.Syscall6", "syscall.RawSyscall6", "syscall.Setsockopt"}, whereSyscall},
		{[]string{"runtime.futex", "runtime.futexwakeup", "runtime.wakep", "runtime.ready", "boshd/bosh.(*Session).deliver"}, whereFutex},
		{[]string{"runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker.func2", "runtime.systemstack", "runtime.gcBgMarkWorker"}, whereGC},
		{[]string{"runtime.memclrNoHeapPointers", "runtime.mallocgc", "bufio.NewReaderSize", "net/http.(*conn).serve"}, whereMalloc},
		{[]string{"runtime.runqsteal", "runtime.stealWork", "runtime.findRunnable", "runtime.schedule", "runtime.park_m", "runtime.mcall"}, whereSched},
		{[]string{"net/textproto.(*Reader).readLineSlice", "net/http.readRequest", "net/http.(*conn).serve"}, whereHTTP},
		{[]string{"encoding/xml.(*Decoder).Token", "boshd/bosh.ParseBody", "net/http.(*conn).serve"}, whereXML},
		{[]string{"bytes.IndexByte", "boshd/xmppconn.(*Splitter).Next", "boshd/bosh/relay.(*Relay).read"}, whereBoshd},
		{[]string{"crypto/internal/fips140/aes/gcm.seal", "crypto/tls.(*Conn).Write", "boshd/xmppconn.(*Conn).Write"}, whereTLS},
		{[]string{"runtime.memmove", "runtime.goexit"}, whereOther},
		{nil, whereOther},
	}
	for _, tc := range tests {
		if got := classify(tc.stack); got != tc.want {
			t.Errorf("classify(%v) = %q, want %q", tc.stack, got, tc.want)
		}
	}
}

// writeTestProfile writes a CPU profile of 40 ms: 30 ms in a write under
// net/http (the write inlined into the system call's location) and 10 ms
// in encoding/xml under boshd.
func writeTestProfile(t *testing.T, path string) {
	t.Helper()
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	write, serve, parse, token := fn(1, "syscall.write"), fn(2, "net/http.(*conn).serve"), fn(3, "boshd/bosh.ParseBody"), fn(4, "encoding/xml.(*Decoder).Token")
	sys := fn(5, "internal/runtime/syscall/linux.Syscall6")
	locSys := &profile.Location{ID: 1, Line: []profile.Line{{Function: sys}, {Function: write}}}
	locServe := &profile.Location{ID: 2, Line: []profile.Line{{Function: serve}}}
	locXML := &profile.Location{ID: 3, Line: []profile.Line{{Function: token}, {Function: parse}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{locSys, locServe}, Value: []int64{3, 30e6}},
			{Location: []*profile.Location{locXML, locServe}, Value: []int64{1, 10e6}},
		},
		Location: []*profile.Location{locSys, locServe, locXML},
		Function: []*profile.Function{write, serve, parse, token, sys},
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
}

// TestCPUShares reads a CPU profile written by the pprof library and
// splits its samples by row, inlined frames included.
func TestCPUShares(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	writeTestProfile(t, path)
	shares, secs, err := cpuShares(path)
	if err != nil {
		t.Fatal(err)
	}
	if secs != 0.04 || shares[whereWrite] != 0.75 || shares[whereXML] != 0.25 || len(shares) != 2 {
		t.Fatalf("shares %v over %g s, want write 0.75 and encoding/xml 0.25 over 0.04 s", shares, secs)
	}
	if _, _, err := cpuShares(filepath.Join(t.TempDir(), "none.pprof")); err == nil {
		t.Fatal("a missing profile read without error")
	}
	if err := os.WriteFile(path, []byte("not a profile"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cpuShares(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a corrupt profile: err %v, want one naming the file", err)
	}
}

// TestWriteProfiles finds a profile kept one directory below the results
// and writes its table, each row's part of the CPU per message taken from
// the run's result beside it.
func TestWriteProfiles(t *testing.T) {
	dir := t.TempDir()
	writeTestProfile(t, filepath.Join(dir, "profile", "boshd+prosody-n5000-run1-500.pprof"))
	res := `{"phases":[{"rate":500,"Delivered":100,"cpu":[{"name":"boshd","ms_per_delivered":0.8},{"name":"prosody","ms_per_delivered":0.5}]}]}`
	if err := os.WriteFile(filepath.Join(dir, "profile", "boshd+prosody-n5000-run1.json"), []byte(res), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := writeProfiles(func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }, dir); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"### Where boshd's CPU went: boshd+prosody, N = 5000, 500 messages/s",
		"`profile/boshd+prosody-n5000-run1-500.pprof`, 0.0 CPU seconds sampled",
		"that run's 0.800 ms per delivered message",
		"| " + whereWrite + " | 75.0 % | 0.600 |",
		"| " + whereXML + " | 25.0 % | 0.200 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
}

// TestHeapOwner names the allocating package from the nearest frame that
// has an owner.
func TestHeapOwner(t *testing.T) {
	tests := []struct {
		stack []string
		want  string
	}{
		{[]string{"bytes.growSlice", "bytes.(*Buffer).grow", "crypto/tls.(*Conn).readFromUntil", "boshd/xmppconn.(*Stream).Next"}, "crypto/tls (the upstream's TLS state and buffers)"},
		{[]string{"bufio.NewReaderSize", "net/http.newBufioReader", "net/http.(*conn).serve"}, "net/http"},
		{[]string{"net/textproto.readMIMEHeader", "net/http.readRequest"}, "net/http"},
		{[]string{"boshd/bosh/relay.(*Relay).park", "boshd/bosh.(*Session).handle"}, "boshd/bosh/relay"},
		{[]string{"time.newTimer", "boshd/bosh.(*Session).holdRequest"}, "boshd/bosh"},
		{[]string{"encoding/xml.(*Decoder).Token", "boshd/bosh.ParseBody"}, "encoding/xml"},
		{[]string{"github.com/sirupsen/logrus.(*Entry).WithFields"}, "logrus"},
		{[]string{"runtime.malg", "runtime.newproc1"}, "runtime and other"},
	}
	for _, tc := range tests {
		if got := heapOwner(tc.stack); got != tc.want {
			t.Errorf("heapOwner(%v) = %q, want %q", tc.stack, got, tc.want)
		}
	}
}

// TestWriteHeapProfiles divides what each package holds by the sessions
// the profile's name gives, largest first.
func TestWriteHeapProfiles(t *testing.T) {
	dir := t.TempDir()
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	tlsFn, httpFn := fn(1, "crypto/tls.(*Conn).readRecord"), fn(2, "net/http.newBufioReader")
	locTLS := &profile.Location{ID: 1, Line: []profile.Line{{Function: tlsFn}}}
	locHTTP := &profile.Location{ID: 2, Line: []profile.Line{{Function: httpFn}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"}, {Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"}},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{locTLS}, Value: []int64{10, 9 << 20, 2, 3 << 20}},
			{Location: []*profile.Location{locHTTP}, Value: []int64{10, 9 << 20, 1, 1 << 20}},
		},
		Location: []*profile.Location{locTLS, locHTTP},
		Function: []*profile.Function{tlsFn, httpFn},
	}
	path := filepath.Join(dir, "profile", "boshd-tls+prosody-n1024-run1"+heapSuffix)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var b strings.Builder
	pr := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	if err := writeHeapProfiles(pr, dir); err != nil {
		t.Fatal(err)
	}
	// The CPU tables skip a heap profile.
	if err := writeProfiles(pr, dir); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	want := "| crypto/tls (the upstream's TLS state and buffers) | 3.00 | 75.0 % |\n| net/http | 1.00 | 25.0 % |\n"
	if !strings.Contains(got, "boshd-tls+prosody, N = 1024") || !strings.Contains(got, "4.0 KiB live per session") || !strings.Contains(got, want) {
		t.Fatalf("got:\n%s\nwant the rows\n%s", got, want)
	}
	if strings.Contains(got, "CPU went") {
		t.Fatalf("a heap profile read as a CPU one:\n%s", got)
	}
}

// TestParseRunName splits the names bench/compare gives a run's files.
func TestParseRunName(t *testing.T) {
	tests := []struct {
		base      string
		target    string
		n, run    int
		rate      string
		wantParse bool
	}{
		{"boshd+prosody-n5000-run1", "boshd+prosody", 5000, 1, "", true},
		{"boshd-h2+prosody-n18000-run2-500", "boshd-h2+prosody", 18000, 2, "500", true},
		{"node-xmpp-bosh+prosody-n1000-run3-12.5", "node-xmpp-bosh+prosody", 1000, 3, "12.5", true},
		{"boshd+prosody-n5000", "", 0, 0, "", false},
		{"boshd+prosody-nX-run1", "", 0, 0, "", false},
		{"boshd+prosody-n5000-r1", "", 0, 0, "", false},
		{"boshd+prosody-n5000-run1-500-x", "", 0, 0, "", false},
		{"machine", "", 0, 0, "", false},
	}
	for _, tc := range tests {
		target, n, run, rate, ok := parseRunName(tc.base)
		if ok != tc.wantParse || target != tc.target || n != tc.n || run != tc.run || rate != tc.rate {
			t.Errorf("parseRunName(%q) = %q %d %d %q %v, want %q %d %d %q %v", tc.base, target, n, run, rate, ok, tc.target, tc.n, tc.run, tc.rate, tc.wantParse)
		}
	}
}

// FuzzParseRunName: a name parses back into itself or not at all.
func FuzzParseRunName(f *testing.F) {
	for _, s := range []string{"boshd+prosody-n5000-run1", "boshd-h2+prosody-n18000-run2-500", "-n-run", "x-n1-run1-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, base string) {
		target, n, run, rate, ok := parseRunName(base)
		if !ok {
			return
		}
		again := fmt.Sprintf("%s-n%d-run%d", target, n, run)
		if rate != "" {
			again += "-" + rate
		}
		if t2, n2, r2, rate2, ok2 := parseRunName(again); !ok2 || t2 != target || n2 != n || r2 != run || rate2 != rate {
			t.Fatalf("%q parsed to %q %d %d %q, which parses to %q %d %d %q %v", base, target, n, run, rate, t2, n2, r2, rate2, ok2)
		}
	})
}
