package prebind

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"

	"mellium.im/xmpp/jid"
)

// credentials are what a pre-binding request names: the account, the
// resource to bind (RFC 6120 §7.6; "" lets the server choose) and the
// password. String and GoString leave the password out, so that no %v in
// a log line or error can print it.
type credentials struct {
	user, domain, resource string
	password               string
}

func (c credentials) String() string   { return c.bare() + "/" + c.resource }
func (c credentials) GoString() string { return "prebind.credentials{" + c.String() + "}" }

func (c credentials) bare() string { return c.user + "@" + c.domain }

// form is the body of a pre-binding request, JSON or form-encoded.
type form struct {
	JID      string `json:"jid"`
	Password string `json:"password"`
}

// readCredentials reads and checks the request body: a JSON object or a
// form (application/x-www-form-urlencoded) with jid and password. Fields
// in the URL's query are ignored, so that a password never travels where
// proxies log it.
func readCredentials(w http.ResponseWriter, r *http.Request, limit int64) (credentials, *refusal) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return credentials{}, refuse(http.StatusUnsupportedMediaType, "unsupported-media-type", "send application/json or application/x-www-form-urlencoded")
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	var f form
	switch mt {
	case "application/json":
		dec := json.NewDecoder(body)
		if err := dec.Decode(&f); err != nil {
			return credentials{}, bodyError(err, "the body is not a JSON object with jid and password")
		}
	case "application/x-www-form-urlencoded":
		raw, err := io.ReadAll(body)
		if err != nil {
			return credentials{}, bodyError(err, "")
		}
		v, err := url.ParseQuery(string(raw))
		if err != nil {
			return credentials{}, refuse(http.StatusBadRequest, "bad-request", "the body is not a valid form")
		}
		f.JID, f.Password = v.Get("jid"), v.Get("password")
	default:
		return credentials{}, refuse(http.StatusUnsupportedMediaType, "unsupported-media-type", "send application/json or application/x-www-form-urlencoded")
	}
	if f.JID == "" || f.Password == "" {
		return credentials{}, refuse(http.StatusBadRequest, "bad-request", "jid and password are required")
	}
	j, err := jid.Parse(f.JID)
	if err != nil || j.Localpart() == "" {
		return credentials{}, refuse(http.StatusBadRequest, "bad-request", "jid must be user@domain or user@domain/resource")
	}
	return credentials{user: j.Localpart(), domain: j.Domainpart(), resource: j.Resourcepart(), password: f.Password}, nil
}

// bodyError tells a body over the limit from a malformed one.
func bodyError(err error, malformed string) *refusal {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return refuse(http.StatusRequestEntityTooLarge, "too-large", "the body is too large")
	}
	if malformed == "" {
		malformed = "the body could not be read"
	}
	return refuse(http.StatusBadRequest, "bad-request", malformed)
}
