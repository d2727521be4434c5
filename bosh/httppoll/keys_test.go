package httppoll

import "testing"

// The key sequence of XEP-0025 §4's example.
var fooChain = []string{
	"C+7Hteo/D9vJXQ3UfzxbwnXaijM=", // K(1, "foo")
	"6UU8CDmH3O4aHFmCqSORCn721+M=",
	"vFFYSOhGyaGUgLrldtMBX7x91Wc=",
	"ZaDxCilBVTHS9dJfbBo1NsC2b+8=",
	"moPFsvHytDGiJQOjp186AMXAeP0=",
	"VvxEk07IFy6hUmG/PPBlTLE2fiA=", // K(6, "foo")
}

func TestNextKey(t *testing.T) {
	prev := "foo"
	for n, want := range fooChain {
		got := NextKey(prev)
		if got != want {
			t.Fatalf("K(%d, foo) = %q, want %q", n+1, got, want)
		}
		prev = got
	}
}

func TestKeyChain(t *testing.T) {
	keys := KeyChain("foo", 6)
	for i, k := range keys {
		if want := fooChain[len(fooChain)-1-i]; k != want {
			t.Fatalf("KeyChain(foo, 6)[%d] = %q, want K(%d) = %q", i, k, 6-i, want)
		}
	}
}

func TestKeyFollows(t *testing.T) {
	for _, tc := range []struct {
		key, last string
		want      bool
	}{
		{fooChain[4], fooChain[5], true},  // K(5) after K(6)
		{"foo", fooChain[0], true},        // K(0) after K(1)
		{fooChain[5], fooChain[4], false}, // backwards
		{fooChain[3], fooChain[5], false}, // skipped one
		{fooChain[5], fooChain[5], false}, // replayed
		{"", fooChain[0], false},
	} {
		if got := keyFollows(tc.key, tc.last); got != tc.want {
			t.Errorf("keyFollows(%q, %q) = %v, want %v", tc.key, tc.last, got, tc.want)
		}
	}
}
