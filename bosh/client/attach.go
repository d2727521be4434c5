package client

import "fmt"

// Attach continues a session that was created and logged in elsewhere: a
// pre-bound session, whose sid, last rid and JID a web application handed
// to the page (Strophe.js's Connection.attach; the rid window of XEP-0124
// §14.1 lets the new holder go on with lastRID + 1). No request is sent:
// the first one is Run's or Send's. The creation response is unknown, so
// Params and Features are empty and c.Hold and c.Wait are taken as what
// the CM granted.
func Attach(c Config, sid string, lastRID uint64, jid string) (*Session, error) {
	if sid == "" {
		return nil, fmt.Errorf("client: attach: empty sid")
	}
	if lastRID >= maxRID {
		return nil, fmt.Errorf("client: attach: rid %d leaves no room below 2^53-1", lastRID)
	}
	s, err := newSession(c)
	if err != nil {
		return nil, fmt.Errorf("client: attach to %s at %s: %w", sid, c.URL, err)
	}
	s.SID, s.JID = sid, jid
	s.CreateResponse = &Body{}
	s.nextRID = lastRID + 1
	s.ready(s.cfg.Hold + 1)
	return s, nil
}
