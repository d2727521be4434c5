package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// buildInfo is what boshd knows of its own build, from the information
// the Go toolchain embeds (runtime/debug.ReadBuildInfo): the module
// version ("(devel)" for a build from a checkout), the VCS revision and
// commit time when built inside a git checkout with -buildvcs, and the Go
// version.
type buildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// version, when set at link time (make build: -X main.version=$(git
// describe)), stands in for the module version of a checkout build, which
// the toolchain records as "(devel)".
var version string

func readBuild() (b buildInfo) {
	b.Version = "unknown"
	defer func() {
		if version != "" && (b.Version == "(devel)" || b.Version == "unknown") {
			b.Version = version
		}
	}()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Go = bi.GoVersion
	if v := bi.Main.Version; v != "" {
		b.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is -version's output: one line.
func (b buildInfo) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "boshd %s", b.Version)
	if b.Revision != "" {
		fmt.Fprintf(&sb, " revision %s", b.Revision)
		if b.Time != "" {
			fmt.Fprintf(&sb, " (%s)", b.Time)
		}
		if b.Modified {
			sb.WriteString(" with local changes")
		}
	}
	fmt.Fprintf(&sb, " built with %s\n", b.Go)
	return sb.String()
}
