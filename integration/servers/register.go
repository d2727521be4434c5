package servers

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Register creates the account user@Domain with password pass through the
// server's own administration tool (prosodyctl register, ejabberdctl
// register), the way an administrator would. It costs tens of milliseconds
// (Prosody) to a second (ejabberd); use RegisterMany for many accounts.
func (s *Server) Register(ctx context.Context, user, pass string) error {
	var err error
	switch s.Kind {
	case KindProsody:
		err = s.prosodyRegister(ctx, user, pass)
	case KindEjabberd:
		err = s.ejabberdRegister(ctx, user, pass)
	default:
		err = fmt.Errorf("unknown kind %q", s.Kind)
	}
	if err != nil {
		return fmt.Errorf("servers: register on %s: %w", s.Kind, err)
	}
	return nil
}

// RegisterMany creates the accounts user@Domain for every user → password
// in users, fast enough for thousands: Prosody's account files are written
// directly; ejabberd gets one Erlang RPC session calling
// ejabberd_auth:try_register for all of them. User names must be ASCII
// without the characters nodeprep forbids (RFC 7622 §3.3.1: space " & ' / :
// < > @); they are lower-cased as nodeprep would. Passwords must be
// printable ASCII. Accounts that exist are an error for ejabberd and are
// overwritten for Prosody.
func (s *Server) RegisterMany(ctx context.Context, users map[string]string) error {
	if len(users) == 0 {
		return nil
	}
	start := time.Now()
	var err error
	switch s.Kind {
	case KindProsody:
		err = s.prosodyRegisterMany(users)
	case KindEjabberd:
		err = s.ejabberdRegisterMany(ctx, users)
	default:
		err = fmt.Errorf("unknown kind %q", s.Kind)
	}
	if err != nil {
		return fmt.Errorf("servers: register %d accounts on %s (after %v): %w", len(users), s.Kind, time.Since(start), err)
	}
	return nil
}

// simpleNodeprep is nodeprep (RFC 3920 Appendix A, RFC 7622 §3.3) for the
// ASCII subset: lower-case, and reject what is prohibited. Non-ASCII names
// are refused rather than prepared wrongly.
func simpleNodeprep(user string) (string, error) {
	if user == "" || len(user) > 1023 {
		return "", fmt.Errorf("user name %q: empty or too long", user)
	}
	for i := 0; i < len(user); i++ {
		c := user[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte("\"&'/:<>@", c) >= 0 {
			return "", fmt.Errorf("user name %q: byte %q is not allowed here (ASCII without space \"&'/:<>@ only)", user, c)
		}
	}
	return strings.ToLower(user), nil
}

// printableASCII reports whether s is non-empty printable ASCII, which
// SASLprep (RFC 4013) leaves unchanged.
func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
