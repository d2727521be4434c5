package httppoll

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want Request
		err  bool
	}{
		{name: "first without key", body: "0,<stream:stream to='example.com'>",
			want: Request{ID: "0", XML: []byte("<stream:stream to='example.com'>")}},
		{name: "first with key (§4 example)", body: "0;VvxEk07IFy6hUmG/PPBlTLE2fiA=,<stream:stream>",
			want: Request{ID: "0", Key: "VvxEk07IFy6hUmG/PPBlTLE2fiA=", XML: []byte("<stream:stream>")}},
		{name: "poll", body: "7776:2054,", want: Request{ID: "7776:2054", XML: []byte{}}},
		{name: "keyed poll", body: "7776:2054;moPFsvHytDGiJQOjp186AMXAeP0=,",
			want: Request{ID: "7776:2054", Key: "moPFsvHytDGiJQOjp186AMXAeP0=", XML: []byte{}}},
		{name: "re-key (§4 example)", body: "7776:2054;C+7Hteo/D9vJXQ3UfzxbwnXaijM=;Tr697Eff02+32FZp38Xaq2+3Bv4=,<presence/>",
			want: Request{ID: "7776:2054", Key: "C+7Hteo/D9vJXQ3UfzxbwnXaijM=", NewKey: "Tr697Eff02+32FZp38Xaq2+3Bv4=", XML: []byte("<presence/>")}},
		{name: "xml with commas and semicolons", body: "ab-12,<body>a;b,c</body>",
			want: Request{ID: "ab-12", XML: []byte("<body>a;b,c</body>")}},
		{name: "no comma", body: "0", err: true},
		{name: "empty", body: "", err: true},
		{name: "empty identifier", body: ",<x/>", err: true},
		{name: "identifier with underscore", body: "a_b,", err: true},
		{name: "identifier with space", body: "a b,", err: true},
		{name: "form-encoded identifier", body: "ID%3D0,", err: true},
		{name: "empty key", body: "0;,", err: true},
		{name: "empty new key", body: "abc;k1;,", err: true},
		{name: "too many parts", body: "abc;k1;k2;k3,", err: true},
		{name: "key with space", body: "abc;k 1,", err: true},
		{name: "long identifier", body: string(bytes.Repeat([]byte("a"), maxIdentifier+1)) + ",", err: true},
		{name: "long key", body: "abc;" + string(bytes.Repeat([]byte("k"), maxKey+1)) + ",", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRequest([]byte(tc.body))
			if tc.err {
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("ParseRequest(%q) = %+v, %v; want ErrBadRequest", tc.body, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequest(%q): %v", tc.body, err)
			}
			if got.ID != tc.want.ID || got.Key != tc.want.Key || got.NewKey != tc.want.NewKey || !bytes.Equal(got.XML, tc.want.XML) {
				t.Fatalf("ParseRequest(%q) = %+v, want %+v", tc.body, got, tc.want)
			}
			if back := AppendRequest(nil, got); string(back) != tc.body {
				t.Fatalf("AppendRequest = %q, want the original %q", back, tc.body)
			}
		})
	}
}
