// Package report holds what the benchmark commands' reports share: the
// machine and commit a run is described by, and the section of a
// Markdown document (docs/benchmarks.md, docs/scaling.md) that a run
// replaces between its markers.
package report

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// The markers around the generated section of a document.
const (
	BeginMark = "<!-- results:begin -->"
	EndMark   = "<!-- results:end -->"
)

// ReplaceSection puts section (which starts with BeginMark and ends with
// EndMark) between the markers of the file at path, or appends it under
// "## Results" when the file has none.
func ReplaceSection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	i, j := strings.Index(doc, BeginMark), strings.Index(doc, EndMark)
	if i >= 0 && j > i {
		doc = doc[:i] + section + strings.TrimPrefix(doc[j+len(EndMark):], "\n")
	} else {
		doc += "\n## Results\n\n" + section
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

// GitHead names the checked-out commit ("commit abc1234 subject"), the
// one the binaries are built from.
func GitHead() string {
	out, err := exec.Command("git", "log", "-1", "--format=%h %s").Output()
	if err != nil {
		return "unknown commit"
	}
	return "commit " + strings.TrimSpace(string(out))
}

// MemGiB is this machine's RAM in GiB (0 when unknown).
func MemGiB() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	if len(f) < 2 {
		return 0
	}
	kb, _ := strconv.ParseFloat(f[1], 64)
	return kb / 1024 / 1024
}

// Machine describes this machine: cores, CPU model, RAM, kernel and Go.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel, _ := exec.Command("uname", "-r").Output()
	return fmt.Sprintf("%d × %s, %.1f GiB RAM, Linux %s, %s", runtime.NumCPU(), model, MemGiB(), strings.TrimSpace(string(kernel)), runtime.Version())
}
