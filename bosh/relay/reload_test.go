package relay

import (
	"errors"
	"testing"
)

func TestReload(t *testing.T) {
	counter := NewCounter()
	reg := NewRegistry[int](0, 0, counter)
	prev := FrontEnd{Domains: &Domains{}, Counter: counter, Node: "n1"}
	next := FrontEnd{Domains: &Domains{}, Counter: NewCounter(), Node: "n2", MaxSessions: 1}
	Reload(reg, prev, &next)
	if next.Counter != counter || next.Node != "n1" {
		t.Errorf("Reload kept Counter %p and Node %q, want the previous %p and %q", next.Counter, next.Node, counter, "n1")
	}
	if _, err := reg.Reserve("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Reserve("b"); !errors.Is(err, ErrTooManySessions) {
		t.Errorf("second Reserve after a reload to max 1 = %v, want %v", err, ErrTooManySessions)
	}

	defer func() {
		if recover() == nil {
			t.Error("Reload without Domains did not panic")
		}
	}()
	Reload(reg, prev, &FrontEnd{})
}
