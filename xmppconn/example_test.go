package xmppconn_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"time"

	"boshd/xmppconn"
)

// A Splitter takes bytes in whatever pieces they come, here an element cut
// in the middle of its name, and returns each top-level element once it is
// complete.
func ExampleSplitter() {
	var sp xmppconn.Splitter
	for _, piece := range []string{
		"<?xml version='1.0'?><stream:stream to='example.net' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
		"<message to='juliet@example.net'><body>Art thou not Romeo?</body></mes",
		"sage>\n <presence/></stream:stream>",
	} {
		sp.Write([]byte(piece))
		for {
			el, ok, err := sp.Next()
			if err != nil {
				log.Fatal(err)
			}
			if !ok {
				break // wait for the next piece
			}
			fmt.Printf("%s %s xmlns=%v %s\n", el.Kind, el.Name, el.HasXMLNS, el.Raw[:el.NameEnd])
		}
	}
	// Output:
	// header stream xmlns=true <?xml version='1.0'?><stream:stream
	// stanza message xmlns=false <message
	// stanza presence xmlns=false <presence
	// end stream xmlns=false
}

// Opening a stream and relaying what the server sends: one goroutine reads
// with Next until the stream ends; anyone may Send; Close ends it.
func ExampleDialer_Open() {
	d := &xmppconn.Dialer{
		Routes:  map[string][]string{"example.net": {"127.0.0.1:5222"}},
		TLS:     xmppconn.TLSRequired,
		Timeout: 5 * time.Second,
	}
	s, err := d.Open(context.Background(), xmppconn.StreamParams{To: "example.net", Version: "1.0"})
	var se *xmppconn.StreamError
	if errors.As(err, &se) {
		log.Printf("the server refused the stream: %s", se.Condition) // relay se.Raw
		return
	}
	if err != nil {
		log.Print(err)
		return
	}
	defer s.Close()
	log.Printf("features for the client: %s", s.Features())

	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			el, err := s.Next()
			if errors.Is(err, io.EOF) {
				return // the server closed the stream
			}
			if err != nil {
				log.Print(err)
				return
			}
			log.Printf("relay %s %q", el.Kind, el.Raw)
		}
	}()
	if err := s.Send([]byte("<presence/>")); err != nil {
		log.Print(err)
	}
	s.Close() // unblocks the reader
	<-done
}
