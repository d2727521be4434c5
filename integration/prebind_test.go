package integration_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"boshd/bosh/client"
	"boshd/integration/servers"
)

// prebindSecret is the [prebind] secret of these tests' boshd.
const prebindSecret = "integration-test-prebind-secret"

// prebindTOML turns pre-binding on, plus extra TOML.
func prebindTOML(extra string) string {
	return fmt.Sprintf("[prebind]\nsecret = %q\n%s", prebindSecret, extra)
}

// prebindURL is the pre-binding endpoint of a boshd started by startBoshd.
func prebindURL(b *boshd) string { return strings.TrimSuffix(b.URL, "/http-bind") + "/prebind" }

// prebindResult is boshd's answer, as Converse.js reads it.
type prebindResult struct {
	JID   string `json:"jid"`
	SID   string `json:"sid"`
	RID   uint64 `json:"rid"`
	Error string `json:"error"`
}

// postPrebind calls the pre-binding endpoint as a web application's server
// would, with a form body.
func postPrebind(t *testing.T, b *boshd, auth, jid, pass string) (int, prebindResult) {
	t.Helper()
	body := url.Values{"jid": {jid}, "password": {pass}}.Encode()
	req, err := http.NewRequest(http.MethodPost, prebindURL(b), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("POST %s: %v", prebindURL(b), err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var res prebindResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("answer %d %q is not JSON: %v", resp.StatusCode, raw, err)
	}
	return resp.StatusCode, res
}

// account registers a user with a password distinctive enough to be
// searched for in logs.
func account(t *testing.T, srv *servers.Server, prefix string) (name, pass string) {
	t.Helper()
	name = fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1e9)
	pass = "Pw-" + name + "-Tr0ub4dor&3 x"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Register(ctx, name, pass); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return name, pass
}

// waitLog waits up to 10 s for a line of boshd's log to match re (the log
// arrives through a pipe, after the HTTP answer) and returns the match.
func waitLog(t *testing.T, b *boshd, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(b.Output()); m != nil || time.Now().After(deadline) {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPrebind: through the boshd binary, against real Prosody and ejabberd
// each configured to offer only PLAIN or only SCRAM, a web application
// pre-binds a user (wrong secret and wrong password refused first); a BOSH
// client then attaches with rid + 1, sends presence and exchanges messages
// with a user logged in the ordinary way. The password appears nowhere in
// boshd's debug log.
func TestPrebind(t *testing.T) {
	for _, kind := range kinds {
		for _, mech := range []string{servers.SASLPlain, servers.SASLSCRAM} {
			t.Run(kind+"/"+mech, func(t *testing.T) {
				start := servers.Prosody
				if kind == "ejabberd" {
					start = servers.Ejabberd
				}
				srv := start(t, servers.Options{SASL: mech})
				b := startBoshd(t, srv, prebindTOML(""))
				an, apass := account(t, srv, "alice")
				bn := user(t, srv, "bob")

				// What the server offers through boshd: only the one family.
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				probe, err := client.Connect(ctx, client.Config{URL: b.URL, Domain: srv.Domain, Wait: 10})
				if err != nil {
					t.Fatal(err)
				}
				offered := probe.Mechanisms()
				probe.Close(ctx)
				bobMech := "PLAIN"
				for _, m := range offered {
					if strings.HasPrefix(m, "SCRAM-") != (mech == servers.SASLSCRAM) {
						t.Fatalf("server offers %v; want only %s", offered, mech)
					}
					if m == "SCRAM-SHA-1" {
						bobMech = m
					}
				}
				bob := login(t, b.URL, srv, bn, bobMech)

				full := an + "@" + srv.Domain + "/web"
				if code, res := postPrebind(t, b, "Bearer wrong-"+prebindSecret, full, apass); code != http.StatusUnauthorized || res.Error != "invalid_token" {
					t.Fatalf("wrong secret: %d %+v, want 401 invalid_token", code, res)
				}
				if code, res := postPrebind(t, b, "", full, apass); code != http.StatusUnauthorized {
					t.Fatalf("no secret: %d %+v, want 401", code, res)
				}
				if code, res := postPrebind(t, b, "Bearer "+prebindSecret, full, apass+"-wrong"); code != http.StatusUnauthorized || res.Error != "not-authorized" {
					t.Fatalf("wrong password: %d %+v, want 401 not-authorized", code, res)
				}
				code, res := postPrebind(t, b, "Bearer "+prebindSecret, full, apass)
				if code != http.StatusOK || res.JID != full || res.SID == "" || res.RID == 0 {
					t.Fatalf("pre-binding: %d %+v, want 200 with jid %s, a sid and a rid", code, res, full)
				}
				used := waitLog(t, b, regexp.MustCompile(`session pre-bound.*mechanism=(\S+)`))
				if used == nil || strings.HasPrefix(used[1], "SCRAM-") != (mech == servers.SASLSCRAM) {
					t.Fatalf("boshd logged mechanism %v; want %s", used, mech)
				}
				t.Logf("server offers %v; boshd used %s", offered, used[1])

				// The page's part: attach with rid + 1 and chat.
				alice, err := client.Attach(client.Config{URL: b.URL, Domain: srv.Domain}, res.SID, res.RID, res.JID)
				if err != nil {
					t.Fatal(err)
				}
				keepRunning(t, alice)
				send(t, alice, "<presence xmlns='jabber:client'/>")
				expect(t, alice, 10*time.Second, "<presence", "from='"+full+"'")
				send(t, bob, fmt.Sprintf(`<message xmlns='jabber:client' to='%s' type='chat' id='b1'><body>hello prebound alice</body></message>`, full))
				expect(t, alice, 10*time.Second, "<message", "id='b1'", "hello prebound alice")
				send(t, alice, fmt.Sprintf(`<message xmlns='jabber:client' to='%s' type='chat' id='a1'><body>hi bob</body></message>`, bob.JID))
				expect(t, bob, 10*time.Second, "<message", "id='a1'", "from='"+full+"'")

				if strings.Contains(b.Output(), apass) {
					t.Errorf("boshd's debug log contains the password")
				}
			})
		}
	}
}

// TestPrebindUnattachedEnds: a pre-bound session nobody attaches to ends
// after bosh.inactivity (XEP-0124 §10) and its upstream stream is closed:
// the page attaching later gets item-not-found.
func TestPrebindUnattachedEnds(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			srv := shared(t, kind)
			b := startBoshd(t, srv, prebindTOML("")+"[bosh]\ninactivity = \"2s\"\n")
			an, apass := account(t, srv, "idle")
			code, res := postPrebind(t, b, "Bearer "+prebindSecret, an+"@"+srv.Domain, apass)
			if code != http.StatusOK {
				t.Fatalf("pre-binding: %d %+v", code, res)
			}
			if waitLog(t, b, regexp.MustCompile("session ended: client inactive")) == nil {
				t.Fatal("boshd did not end the unattached session within 10s (inactivity 2s)")
			}
			s, err := client.Attach(client.Config{URL: b.URL, Domain: srv.Domain}, res.SID, res.RID, res.JID)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = s.Request(ctx, nil)
			var te *client.TerminateError
			if !errors.As(err, &te) || te.Condition != "item-not-found" {
				t.Fatalf("attaching after inactivity: %v, want terminate item-not-found", err)
			}
		})
	}
}

// TestPrebindOff: without [prebind] secret there is no pre-binding
// endpoint.
func TestPrebindOff(t *testing.T) {
	srv := shared(t, "prosody")
	b := startBoshd(t, srv, "")
	resp, err := http.Post(prebindURL(b), "application/x-www-form-urlencoded", strings.NewReader("jid=a%40localhost&password=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /prebind without a secret: %d, want 404", resp.StatusCode)
	}
}

// waitDraining waits (up to 10s) for b's /readyz to answer 503: the drain
// a SIGTERM with cluster.shutdown_grace starts has begun.
func waitDraining(t *testing.T, b *boshd) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(b.Base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 503 within 10s of SIGTERM (last: %v)", err)
		}
	}
}

// TestPrebindDraining: once boshd drains (SIGTERM with
// cluster.shutdown_grace), pre-binding refuses new sessions with 503 and
// the JSON error system-shutdown, so a web application can try another
// node; a session pre-bound before keeps the drain open.
func TestPrebindDraining(t *testing.T) {
	srv := shared(t, "prosody")
	b := startBoshd(t, srv, prebindTOML("")+"[cluster]\nshutdown_grace = \"30s\"\n")
	an, apass := account(t, srv, "drain")
	if code, res := postPrebind(t, b, "Bearer "+prebindSecret, an+"@"+srv.Domain, apass); code != http.StatusOK {
		t.Fatalf("pre-binding before the drain: %d %+v", code, res)
	}
	if err := b.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitDraining(t, b)
	code, res := postPrebind(t, b, "Bearer "+prebindSecret, an+"@"+srv.Domain, apass)
	if code != http.StatusServiceUnavailable || res.Error != "system-shutdown" {
		t.Fatalf("pre-binding while draining: %d %+v, want 503 system-shutdown", code, res)
	}
}
