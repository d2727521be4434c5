package prebind

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzReadCredentials: any body under any content type either gives
// credentials naming a user, a domain and a password, or a refusal with a
// 4xx status; never a panic. The credentials' String never holds the
// password.
func FuzzReadCredentials(f *testing.F) {
	f.Add("application/json", `{"jid": "alice@localhost/web", "password": "pw"}`)
	f.Add("application/json; charset=utf-8", `{"jid": "alice@localhost", "password": "p\u0000w"}`)
	f.Add("application/json", `{"jid": 5}`)
	f.Add("application/x-www-form-urlencoded", "jid=alice%40localhost%2Fr&password=a+b")
	f.Add("application/x-www-form-urlencoded", "jid=%zz")
	f.Add("multipart/form-data; boundary=x", "--x--")
	f.Fuzz(func(t *testing.T, ctype, body string) {
		req := httptest.NewRequest(http.MethodPost, "/prebind", strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		c, ref := readCredentials(httptest.NewRecorder(), req, 8<<10)
		if ref != nil {
			if ref.status < 400 || ref.status > 499 || ref.code == "" {
				t.Fatalf("refusal %+v", ref)
			}
			return
		}
		if c.user == "" || c.domain == "" || c.password == "" {
			t.Fatalf("accepted incomplete credentials %#v", c)
		}
		if strings.Contains(c.String(), c.password) && !strings.Contains(c.user+c.domain+c.resource, c.password) {
			t.Fatalf("String() %q shows the password", c.String())
		}
	})
}
