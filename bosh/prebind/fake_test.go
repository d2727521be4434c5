package prebind

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"sync"

	"boshd/bosh/internal/xmpptest"
	"boshd/xmppconn"
)

// account plays the XMPP server's side of a login on every stream of an
// in-memory xmpptest server, for unit tests of edges: SASL PLAIN against one
// password (any other mechanism is refused, after noting its name), then
// resource binding. Other elements the client sends go to got.
type account struct {
	user, pass string
	up         *xmpptest.Server
	mechs      chan string           // each <auth/>'s mechanism
	conns      chan *xmpptest.Conn   // each stream, once logged in
	got        chan xmppconn.Element // everything else the client sent
	wg         sync.WaitGroup
	done       chan struct{}
}

// featuresPlain offers PLAIN and binding (both at once, which a client
// must cope with: it looks for <bind/> only after the restart).
const featuresPlain = `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`

// featuresSCRAM also offers SCRAM-SHA-1, which a pre-binder must prefer.
const featuresSCRAM = `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`

func newAccount(up *xmpptest.Server, user, pass string) *account {
	a := &account{user: user, pass: pass, up: up, mechs: make(chan string, 16), conns: make(chan *xmpptest.Conn, 16),
		got: make(chan xmppconn.Element, 64), done: make(chan struct{})}
	a.wg.Add(1)
	go a.accept()
	return a
}

// stop closes the server and waits for the account's goroutines.
func (a *account) stop() {
	close(a.done)
	a.up.Close()
	a.wg.Wait()
}

func (a *account) accept() {
	defer a.wg.Done()
	for {
		select {
		case c := <-a.up.Conns:
			a.wg.Add(1)
			go a.serve(c)
		case <-a.done:
			return
		}
	}
}

var (
	mechRE     = regexp.MustCompile(`mechanism=['"]([^'"]+)['"]`)
	textRE     = regexp.MustCompile(`>([^<]*)<`)
	resourceRE = regexp.MustCompile(`<resource>([^<]*)</resource>`)
)

func (a *account) serve(c *xmpptest.Conn) {
	defer a.wg.Done()
	for el := range c.Received {
		switch el.Name {
		case "stream":
		case "auth":
			m := mechRE.FindSubmatch(el.Raw)
			mech := ""
			if m != nil {
				mech = string(m[1])
			}
			put(a, a.mechs, mech)
			ok := false
			if t := textRE.FindSubmatch(el.Raw); mech == "PLAIN" && t != nil {
				plain, _ := base64.StdEncoding.DecodeString(string(t[1]))
				ok = bytes.Equal(plain, []byte("\x00"+a.user+"\x00"+a.pass))
			}
			if ok {
				c.Write([]byte(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`))
			} else {
				c.Write([]byte(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>`))
			}
		case "iq":
			if !bytes.Contains(el.Raw, []byte("urn:ietf:params:xml:ns:xmpp-bind")) {
				put(a, a.got, el)
				continue
			}
			res := "fake"
			if m := resourceRE.FindSubmatch(el.Raw); m != nil {
				res = string(m[1])
			}
			id := regexp.MustCompile(`id=['"]([^'"]+)['"]`).FindSubmatch(el.Raw)[1]
			c.Write([]byte("<iq type='result' id='" + string(id) + "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>" +
				a.user + "@localhost/" + res + "</jid></bind></iq>"))
			put(a, a.conns, c)
		default:
			put(a, a.got, el)
		}
	}
}

// put delivers v unless the account is stopping.
func put[T any](a *account, ch chan T, v T) {
	select {
	case ch <- v:
	case <-a.done:
	}
}
