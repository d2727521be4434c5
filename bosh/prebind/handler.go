package prebind

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/client"
)

// Handler answers pre-binding requests (see the package comment).
type Handler struct {
	// cur is the settings in force; Reload swaps them whole, and each
	// request reads them once, so it never sees half of each.
	cur atomic.Pointer[settings]
}

// settings is one generation of a Handler's Config, with the secret's
// digest for the constant-time comparison.
type settings struct {
	cfg    Config
	secret [sha256.Size]byte
}

// New returns a Handler for cfg. It panics when cfg.Secret or cfg.BOSH is
// missing: pre-binding without a secret would log anyone in as anyone.
func New(cfg Config) *Handler {
	h := &Handler{}
	h.Reload(cfg)
	return h
}

// Reload puts cfg in force for the requests that arrive from now on — a
// rotated Secret, a new Allow list; a pre-binding under way finishes with
// the settings it started with. It panics as New does.
func (h *Handler) Reload(cfg Config) {
	if cfg.Secret == "" {
		panic("prebind: Config.Secret is required")
	}
	if cfg.BOSH == nil {
		panic("prebind: Config.BOSH is required")
	}
	h.cur.Store(&settings{cfg: cfg.withDefaults(), secret: sha256.Sum256([]byte(cfg.Secret))})
}

// Result is the answer to a successful pre-binding, in the form Converse.js
// reads from its prebind_url: the full JID bound (RFC 6120 §7), the BOSH
// session's sid and the last rid used (XEP-0124 §14.1); the page's first
// request carries RID + 1.
type Result struct {
	JID string `json:"jid"`
	SID string `json:"sid"`
	RID uint64 `json:"rid"`
}

// refusal is an answer other than a Result: an HTTP status and a JSON
// {"error": code, "message": text}.
type refusal struct {
	status  int
	code    string
	message string
}

func refuse(status int, code, message string) *refusal {
	return &refusal{status: status, code: code, message: message}
}

// mechanisms are the SASL mechanisms used, best first: SCRAM where the
// server offers it (RFC 5802: the password never crosses the wire and the
// server proves it knows it), PLAIN otherwise (RFC 4616).
var mechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}

// ServeHTTP answers one pre-binding request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, refuse(0, "method-not-allowed", "pre-binding uses POST").body())
		return
	}
	st := h.cur.Load()
	log := st.cfg.Log.WithField("remote", r.RemoteAddr)
	if ref := st.authorize(w, r); ref != nil {
		log.WithField("error", ref.code).Info("pre-binding refused")
		writeJSON(w, ref.status, ref.body())
		return
	}
	creds, ref := readCredentials(w, r, st.cfg.MaxBodyBytes)
	if ref != nil {
		log.WithField("error", ref.code).Info("pre-binding refused")
		writeJSON(w, ref.status, ref.body())
		return
	}
	log = log.WithField("jid", creds.bare())
	res, mech, ref := st.prebind(r, creds)
	if ref != nil {
		log.WithFields(logrus.Fields{"error": ref.code, "reason": ref.message}).Info("pre-binding failed")
		writeJSON(w, ref.status, ref.body())
		return
	}
	log.WithFields(logrus.Fields{"full_jid": res.JID, "sid": shortID(res.SID), "rid": res.RID, "mechanism": mech}).Info("session pre-bound")
	writeJSON(w, http.StatusOK, res)
}

// prebind creates a BOSH session on the endpoint, logs in and binds, and
// leaves it with no request held. On failure the session is terminated.
func (st *settings) prebind(r *http.Request, c credentials) (Result, string, *refusal) {
	ctx, cancel := context.WithTimeout(r.Context(), st.cfg.Timeout)
	defer cancel()
	hc := &http.Client{Transport: &inproc{h: st.cfg.BOSH, remote: r.RemoteAddr, forwarded: r.Header.Get("X-Forwarded-For")}}
	s, err := client.Connect(ctx, client.Config{
		URL:        "http://boshd.invalid/http-bind", // never dialled: inproc serves it
		Domain:     c.domain,
		Wait:       st.cfg.Wait,
		Hold:       1,
		HTTPClient: hc,
		MaxRetries: -1, // nothing is lost in-process
		WriteGap:   -1, // one request at a time
	})
	if err != nil {
		return Result{}, "", upstreamRefusal(ctx, err)
	}
	mech := ""
	if offered := s.Mechanisms(); len(offered) > 0 {
		if i := slices.IndexFunc(mechanisms, func(m string) bool { return slices.Contains(offered, m) }); i >= 0 {
			mech = mechanisms[i]
		}
	}
	if mech == "" {
		err = errors.New("the server offers no SASL mechanism boshd can use (SCRAM-SHA-1, SCRAM-SHA-256, PLAIN)")
	} else {
		err = s.Login(ctx, c.user, c.password, mech, c.resource)
	}
	if err != nil {
		// Terminate the half-made session now rather than after
		// 'inactivity'; bounded, even when ctx is what failed.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		s.Close(cctx)
		ccancel()
		return Result{}, mech, upstreamRefusal(ctx, err)
	}
	return Result{JID: s.JID, SID: s.SID, RID: s.RID() - 1}, mech, nil
}

// upstreamRefusal maps a failed creation or login to the answer: the
// server's SASL failure is the caller's bad credentials (RFC 6120 §6.5),
// an unserved domain the caller's mistake, the rest the upstream's fault.
func upstreamRefusal(ctx context.Context, err error) *refusal {
	var sasl *client.SASLError
	var term *client.TerminateError
	switch {
	case errors.As(err, &sasl):
		return refuse(http.StatusUnauthorized, sasl.Condition, "the XMPP server refused the credentials")
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return refuse(http.StatusGatewayTimeout, "timeout", "the XMPP server did not answer in time")
	case errors.As(err, &term) && term.Condition == "host-unknown":
		return refuse(http.StatusBadRequest, "host-unknown", "boshd does not serve this domain")
	case errors.As(err, &term) && term.Condition == "system-shutdown":
		// Draining or stopping (XEP-0124 §17.2): another node can serve.
		return refuse(http.StatusServiceUnavailable, "system-shutdown", "boshd is shutting down and takes no new sessions; try another node")
	case errors.As(err, &term):
		return refuse(http.StatusBadGateway, term.Condition, "the session ended: "+term.Condition)
	}
	return refuse(http.StatusBadGateway, "upstream-failed", err.Error())
}

func (r *refusal) body() map[string]string {
	return map[string]string{"error": r.code, "message": r.message}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// shortID is the start of a sid, enough to find a session in the BOSH
// endpoint's log without writing down a credential.
func shortID(sid string) string {
	if len(sid) > 8 {
		return sid[:8]
	}
	return sid
}
