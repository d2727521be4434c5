package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestDurationKeys: the keys found by reflection are the Duration fields
// of config.go, so the refusal below covers every one of them.
func TestDurationKeys(t *testing.T) {
	want := []string{
		"bosh.max_wait", "bosh.inactivity", "bosh.polling", "bosh.max_pause",
		"poll.poll_min", "poll.poll_max", "poll.hold_cap", "poll.session_timeout",
		"websocket.ping_interval", "websocket.ping_timeout",
		"upstream.dial_timeout", "cluster.shutdown_grace",
	}
	if got := DurationKeys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("duration keys %q, want %q", got, want)
	}
}

// TestDurationNotString: for every duration key, a bare integer (the
// 10-nanosecond trap), a float, a bool or an array is refused with the
// file, line and column of the value and how to write it, whether the key
// is in its table, dotted, or in an inline table; a string with a unit is
// accepted.
func TestDurationNotString(t *testing.T) {
	for _, key := range DurationKeys() {
		table, name, _ := strings.Cut(key, ".")
		forms := []struct {
			form, doc string
			line, col int
		}{
			{"integer", fmt.Sprintf("[%s]\n%s = 10\n", table, name), 2, len(name) + 4},
			{"zero", fmt.Sprintf("[%s]\n%s = 0\n", table, name), 2, len(name) + 4},
			{"float", fmt.Sprintf("[%s]\n%s = 1.5\n", table, name), 2, len(name) + 4},
			{"bool", fmt.Sprintf("[%s]\n%s = true\n", table, name), 2, len(name) + 4},
			{"array", fmt.Sprintf("[%s]\n%s = [\"10s\"]\n", table, name), 2, len(name) + 4},
			{"dotted", fmt.Sprintf("# comment\n%s = 10\n", key), 2, len(key) + 4},
			{"inline table", fmt.Sprintf("%s = { %s = 10 }\n", table, name), 1, len(table) + len(name) + 9},
		}
		for _, f := range forms {
			t.Run(key+"/"+f.form, func(t *testing.T) {
				_, err := Parse("config.toml", []byte(f.doc))
				if err == nil {
					t.Fatalf("%q accepted", f.doc)
				}
				want := fmt.Sprintf("config.toml:%d:%d: %s: %s", f.line, f.col, key, durationHint)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\nwant it to contain %q", err, want)
				}
			})
		}
		t.Run(key+"/string", func(t *testing.T) {
			if _, err := Parse("config.toml", []byte(fmt.Sprintf("[%s]\n%s = \"10s\"\n", table, name))); err != nil {
				t.Errorf("\"10s\" refused: %v", err)
			}
		})
	}
}

// TestDurationErrorsTogether: every bad duration in a file is named at
// once, so fixing a file takes one round.
func TestDurationErrorsTogether(t *testing.T) {
	_, err := Parse("c.toml", []byte("[bosh]\nmax_wait = 60\npolling = 2\n[upstream]\ndial_timeout = 10\n"))
	for _, w := range []string{"c.toml:2:12: bosh.max_wait", "c.toml:3:11: bosh.polling", "c.toml:5:16: upstream.dial_timeout"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not contain %q", err, w)
		}
	}
}
