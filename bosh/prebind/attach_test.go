package prebind

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh"
	"boshd/bosh/client"
)

// prebound pre-binds alice and returns the result.
func (f *fixture) prebound() Result {
	f.t.Helper()
	rec := f.do(request{auth: bearer, ctype: jsonCT, body: goodJSON})
	if rec.Code != http.StatusOK {
		f.t.Fatalf("pre-binding: %d %s", rec.Code, rec.Body)
	}
	var res Result
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		f.t.Fatal(err)
	}
	return res
}

// attach continues a pre-bound session as the page would, in-process.
func (f *fixture) attach(res Result) *client.Session {
	f.t.Helper()
	s, err := client.Attach(client.Config{
		URL: "http://boshd.invalid/http-bind", Domain: "localhost", Wait: 5,
		HTTPClient: &http.Client{Transport: &inproc{h: f.bosh, remote: "192.0.2.9:5000"}},
	}, res.SID, res.RID, res.JID)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// TestAttachAfterPrebind: the page continues the pre-bound session with
// rid + 1 (XEP-0124 §14.1) and stanzas flow both ways; the session was
// left with no request held, so the server's message queued meanwhile
// rides on the page's first answer.
func TestAttachAfterPrebind(t *testing.T) {
	f := newFixture(t, featuresPlain, nil)
	res := f.prebound()
	up := <-f.acct.conns
	up.Write([]byte("<message from='bob@localhost/x' to='alice@localhost/web' id='m1'><body>queued</body></message>"))

	s := f.attach(res)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.RID() != res.RID+1 {
		t.Fatalf("attached session's next rid %d, want %d", s.RID(), res.RID+1)
	}
	msg := []byte("<message xmlns='jabber:client' to='bob@localhost' id='m2'><body>hi</body></message>")
	if err := s.Send(ctx, msg); err != nil {
		t.Fatalf("first request after pre-binding: %v", err)
	}
	select {
	case got := <-s.Receive():
		if !bytes.Contains(got, []byte("id='m1'")) {
			t.Fatalf("received %s, want the queued message m1", got)
		}
	case <-ctx.Done():
		t.Fatal("the queued message did not arrive")
	}
	select {
	case el := <-f.acct.got:
		if !bytes.Contains(el.Raw, []byte("id='m2'")) {
			t.Fatalf("server got %s, want message m2", el.Raw)
		}
	case <-ctx.Done():
		t.Fatal("the page's message did not reach the server")
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUnattachedSessionEnds: a pre-bound session nobody attaches to ends
// after 'inactivity' (XEP-0124 §10), because pre-binding left no request
// held; before that the page could still attach. On synctest's fake clock.
func TestUnattachedSessionEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, featuresPlain, func(_ *Config, b *bosh.Config) { b.Inactivity = 20 * time.Second })
		res := f.prebound()
		time.Sleep(19 * time.Second)
		synctest.Wait()
		if n := f.bosh.Sessions(); n != 1 {
			t.Fatalf("%d sessions 19 s after pre-binding, want 1 (inactivity is 20 s)", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := f.bosh.Sessions(); n != 0 {
			t.Fatalf("%d sessions 21 s after pre-binding, want 0: the unattached session outlived inactivity", n)
		}
		s := f.attach(res)
		_, err := s.Request(context.Background(), nil)
		var te *client.TerminateError
		if !errors.As(err, &te) || te.Condition != "item-not-found" {
			t.Fatalf("attaching after inactivity: %v, want terminate item-not-found", err)
		}
		if !strings.Contains(f.logs.String(), "client inactive") {
			t.Errorf("the BOSH endpoint did not log the session's end for inactivity:\n%s", f.logs)
		}
	})
}

// TestPasswordNeverLogged: with every logger at trace level, no pre-binding
// outcome (success, bad credentials, upstream refusal, malformed body)
// writes the password to the log or echoes it in the answer.
func TestPasswordNeverLogged(t *testing.T) {
	f := newFixture(t, featuresPlain, nil)
	wrong := "wrong-" + password
	reqs := []request{
		{auth: bearer, ctype: jsonCT, body: goodJSON},
		{auth: bearer, ctype: formCT, body: "jid=alice%40localhost&password=" + strings.ReplaceAll(wrong, " ", "+")},
		{auth: bearer, ctype: jsonCT, body: `{"jid": "alice@elsewhere", "password": "` + password + `"}`},
		{auth: bearer, ctype: jsonCT, body: `{"jid": "alice@@localhost", "password": "` + password + `"}`},
		{auth: "Bearer " + password, ctype: jsonCT, body: goodJSON},
	}
	for _, r := range reqs {
		rec := f.do(r)
		if strings.Contains(rec.Body.String(), password) {
			t.Errorf("answer %d echoes the password: %s", rec.Code, rec.Body)
		}
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "session pre-bound") || !strings.Contains(logs, "pre-binding failed") {
		t.Fatalf("the log lacks the pre-binding lines, so the test proves nothing:\n%s", logs)
	}
	if f.pre.cur.Load().cfg.Log.(*logrus.Logger).GetLevel() != logrus.TraceLevel {
		t.Fatal("not logging at trace level")
	}
	// Nor the SASL PLAIN message that carries it (RFC 4616), in Base64.
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + password))
	for _, secretText := range []string{password, wrong, plain} {
		if strings.Contains(logs, secretText) {
			t.Errorf("the log contains a password %q:\n%s", secretText, logs)
		}
	}
}

// TestStropheAttachRepeatsRID: Strophe.js's attach (which Converse.js
// calls with the rid from prebind_url) uses that rid for its first
// request, so the page's first request repeats the pre-binder's last one;
// the BOSH endpoint answers it from its cache (XEP-0124 §14.3) and the
// session carries on with rid + 1.
func TestStropheAttachRepeatsRID(t *testing.T) {
	f := newFixture(t, featuresPlain, nil)
	res := f.prebound()
	// Queued for the page, so that its rid + 1 is answered at once.
	(<-f.acct.conns).Write([]byte("<message from='bob@localhost/x' to='alice@localhost/web' id='m4'><body>queued</body></message>"))
	s := f.attach(Result{JID: res.JID, SID: res.SID, RID: res.RID - 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := s.Request(ctx, nil)
	if err != nil {
		t.Fatalf("repeating the last rid: %v", err)
	}
	if b.Type() == "terminate" || len(b.Payloads) != 1 || !bytes.Contains(b.Payloads[0], []byte("<jid>"+res.JID+"</jid>")) {
		t.Fatalf("repeating the last rid got %s; want the cached bind result", b.Raw)
	}
	msg := []byte("<message xmlns='jabber:client' to='bob@localhost' id='m3'><body>on</body></message>")
	if err := s.Send(ctx, msg); err != nil {
		t.Fatalf("rid + 1 after the repeat: %v", err)
	}
	select {
	case el := <-f.acct.got:
		if !bytes.Contains(el.Raw, []byte("id='m3'")) {
			t.Fatalf("server got %s, want message m3", el.Raw)
		}
	case <-ctx.Done():
		t.Fatal("the page's message did not reach the server")
	}
}
