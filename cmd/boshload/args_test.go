package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	for _, c := range []struct {
		name     string
		args     []string
		wantCode int
		urls     []string
		merge    []string
	}{
		{"default endpoint", nil, -1, []string{"http://127.0.0.1:5280/http-bind"}, nil},
		{"repeated", []string{"-url", "http://a/b", "-url", "http://c/d"}, -1, []string{"http://a/b", "http://c/d"}, nil},
		{"comma list", []string{"-url", "http://a/b, http://c/d,"}, -1, []string{"http://a/b", "http://c/d"}, nil},
		{"not a URL", []string{"-url", "a:5280"}, 2, nil, nil},
		{"odd n", []string{"-n", "3"}, 2, nil, nil},
		{"odd first user", []string{"-first-user", "1"}, 2, nil, nil},
		{"bad spread", []string{"-spread", "random"}, 2, nil, nil},
		{"bad rate", []string{"-rate", "1,x"}, 2, nil, nil},
		{"stray argument", []string{"http://a/b"}, 2, nil, nil},
		{"merge skips the run checks", []string{"-merge", "a.json,b.json", "-merge", "c.json", "-n", "3"}, -1, nil, []string{"a.json", "b.json", "c.json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, code := parseArgs(c.args, io.Discard)
			if code != c.wantCode {
				t.Fatalf("code %d, want %d", code, c.wantCode)
			}
			if code != -1 {
				return
			}
			if c.merge != nil {
				if !slices.Equal(o.merge, c.merge) {
					t.Errorf("merge %v, want %v", o.merge, c.merge)
				}
				return
			}
			if !slices.Equal(o.urls, c.urls) {
				t.Errorf("urls %v, want %v", o.urls, c.urls)
			}
		})
	}
}

// TestEndpoint checks the round-robin: by pair keeps both sessions of a
// pair on one endpoint, by session alternates; -first-user continues the
// rotation where the previous process's sessions left it.
func TestEndpoint(t *testing.T) {
	urls := []string{"u0", "u1", "u2"}
	for _, c := range []struct {
		spread string
		first  int
		want   []int
	}{
		{"pair", 0, []int{0, 0, 1, 1, 2, 2, 0, 0}},
		{"session", 0, []int{0, 1, 2, 0, 1, 2, 0, 1}},
		{"pair", 4, []int{2, 2, 0, 0, 1, 1, 2, 2}},
		{"session", 4, []int{1, 2, 0, 1, 2, 0, 1, 2}},
	} {
		o := options{urls: urls, spread: c.spread, firstUser: c.first}
		var got []int
		for i := range 8 {
			got = append(got, o.endpoint(i))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("spread %s first %d: %v, want %v", c.spread, c.first, got, c.want)
		}
	}
}

// TestBarrier: with -sync each phase is announced on stderr and waits
// for a line on stdin; the end of input lets every later phase go; a
// canceled run does not wait; without -sync nothing is written.
func TestBarrier(t *testing.T) {
	var errb bytes.Buffer
	l := &loader{o: options{sync: true}, stderr: &errb, stdin: strings.NewReader("go\n")}
	ctx := context.Background()
	for _, name := range []string{"setup", "idle"} {
		if err := l.barrier(ctx, name); err != nil {
			t.Fatalf("barrier %s: %v", name, err)
		}
	}
	if got, want := errb.String(), "boshload sync setup\nboshload sync idle\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.barrier(canceled, "close"); err == nil {
		t.Error("a canceled run waited at the barrier")
	}
	errb.Reset()
	l = &loader{o: options{}, stderr: &errb}
	if err := l.barrier(ctx, "setup"); err != nil || errb.Len() != 0 {
		t.Errorf("without -sync: %v, %q", err, errb.String())
	}
}

// TestTransport: HTTP/1.1 gets one light pool per source address (or one
// without), HTTP/2 net/http clients; a bad address is refused.
func TestTransport(t *testing.T) {
	for _, c := range []struct {
		addrs     string
		h2        bool
		pools     int
		clients   int
		wantLocal string
		wantErr   bool
	}{
		{"", false, 1, 0, "", false},
		{"127.0.0.2, 127.0.0.3", false, 2, 0, "127.0.0.2", false},
		{"127.0.0.2", true, 0, 1, "", false},
		{"localhost", false, 0, 0, "", true},
	} {
		l := &loader{o: options{sourceAddrs: c.addrs, h2: c.h2, idleConns: 10}}
		name, hcs, pools, err := l.transport()
		if (err != nil) != c.wantErr || len(pools) != c.pools || len(hcs) != c.clients {
			t.Errorf("%q h2=%v: %q, %d clients, %d pools, %v", c.addrs, c.h2, name, len(hcs), len(pools), err)
			continue
		}
		if c.wantLocal != "" {
			if a, ok := pools[0].LocalAddr.(*net.TCPAddr); !ok || a.IP.String() != c.wantLocal {
				t.Errorf("%q: first pool's source %v, want %s", c.addrs, pools[0].LocalAddr, c.wantLocal)
			}
		}
	}
}
