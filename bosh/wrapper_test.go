package bosh

import (
	"slices"
	"testing"
)

// FuzzScanEmptyWrapper holds the hand-written wrapper scanner to
// encoding/xml's answers: whenever scanEmptyWrapper takes an input, the
// Body (or the error) must be the one parseBodyXML gives for it.
func FuzzScanEmptyWrapper(f *testing.F) {
	for _, s := range []string{
		`<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='localhost' wait='60' hold='1' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>`,
		`<body rid="2" sid="abc" xmlns="http://jabber.org/protocol/httpbind"></body>`,
		"\r\n <body\trid = '3'\nxmlns='http://jabber.org/protocol/httpbind' ></body >\n",
		`<body rid='4' xmlns='http://jabber.org/protocol/httpbind' xml:lang='en' ack='3'/>`,
		`<body rid='5' xmlns='urn:other'/>`,
		`<body rid='6' xmlns='http://jabber.org/protocol/httpbind' a:b='1'/>`,
		`<body rid='7' rid='7' xmlns='http://jabber.org/protocol/httpbind'/>`,
		`<body rid='8' xmlns='http://jabber.org/protocol/httpbind' xmpp:restart='true' xmlns:xmpp='urn:xmpp:bosh'/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		start, ok := scanEmptyWrapper(in)
		if !ok {
			return
		}
		var steps int
		got, gotErr := wrapper(start, &steps)
		want, wantErr := parseBodyXML(in, &steps)
		if (gotErr != nil) != (wantErr != nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("%q: scanner says %v, encoding/xml %v", in, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		if !slices.Equal(got.Attrs, want.Attrs) || len(want.Payloads) != 0 {
			t.Fatalf("%q: scanner gives %+v, encoding/xml %+v", in, got, want)
		}
	})
}

// TestScanEmptyWrapperDeclines: inputs outside the scanner's subset go to
// encoding/xml (which may accept them: they are not errors).
func TestScanEmptyWrapperDeclines(t *testing.T) {
	for _, in := range []string{
		`<?xml version='1.0'?><body xmlns='http://jabber.org/protocol/httpbind'/>`,
		`<b:body xmlns:b='http://jabber.org/protocol/httpbind'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' to='a&amp;b'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' to='é'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind'><presence/></body>`,
		`<body xmlns='http://jabber.org/protocol/httpbind'/>x`,
		`<body xmlns='http://jabber.org/protocol/httpbind' rid=1/>`,
		`<bodyx xmlns='http://jabber.org/protocol/httpbind'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind'rid='1'/>`,
	} {
		if _, ok := scanEmptyWrapper([]byte(in)); ok {
			t.Errorf("scanner took %q", in)
		}
	}
}
