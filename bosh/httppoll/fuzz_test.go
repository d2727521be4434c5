package httppoll

import (
	"bytes"
	"testing"
)

// FuzzParseRequest checks the request parser's invariant: whatever it
// accepts, it prints back (AppendRequest) to bytes that parse to the same
// request, and it never panics. Seeds in testdata/fuzz/FuzzParseRequest.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("0,<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"))
	f.Add([]byte("0;VvxEk07IFy6hUmG/PPBlTLE2fiA=,"))
	f.Add([]byte("7776:2054;C+7Hteo/D9vJXQ3UfzxbwnXaijM=;Tr697Eff02+32FZp38Xaq2+3Bv4=,<presence/>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		if err != nil {
			return
		}
		if r.ID == "" {
			t.Fatalf("accepted an empty identifier in %q", body)
		}
		again, err := ParseRequest(AppendRequest(nil, r))
		if err != nil {
			t.Fatalf("%q parsed to %+v, which prints to something unparsable: %v", body, r, err)
		}
		if again.ID != r.ID || again.Key != r.Key || again.NewKey != r.NewKey || !bytes.Equal(again.XML, r.XML) {
			t.Fatalf("round trip of %q: %+v became %+v", body, r, again)
		}
	})
}
