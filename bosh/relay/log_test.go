package relay

import (
	"errors"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// TestLogRequest: a request's entry is written, with the client's address
// and the error, when its level is on, and not even built when it is off
// (no allocation), for a Logger and for an Entry (cmd/boshd gives each
// front end log.WithField("frontend", …)).
func TestLogRequest(t *testing.T) {
	errBad := errors.New("bad body")
	for _, tt := range []struct {
		name  string
		level logrus.Level // the logger's
		entry bool         // Log is an *Entry of the logger
		want  bool         // a debug entry is written
	}{
		{"logger at info", logrus.InfoLevel, false, false},
		{"entry at info", logrus.InfoLevel, true, false},
		{"logger at debug", logrus.DebugLevel, false, true},
		{"entry at debug", logrus.DebugLevel, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log, hook := test.NewNullLogger()
			log.SetLevel(tt.level)
			f := FrontEnd{Log: log}
			if tt.entry {
				f.Log = log.WithField("frontend", "bosh")
			}
			f.LogRequest(logrus.DebugLevel, "192.0.2.1:4000", errBad, "malformed request")
			entries := hook.AllEntries()
			if !tt.want {
				if len(entries) != 0 {
					t.Fatalf("%d entries written, want none", len(entries))
				}
				if n := testing.AllocsPerRun(100, func() {
					f.LogRequest(logrus.DebugLevel, "192.0.2.1:4000", errBad, "malformed request")
				}); n != 0 {
					t.Errorf("LogRequest below the level allocates %v times, want 0", n)
				}
				return
			}
			if len(entries) != 1 {
				t.Fatalf("%d entries written, want 1", len(entries))
			}
			e := entries[0]
			if e.Level != logrus.DebugLevel || e.Message != "malformed request" || e.Data["remote"] != "192.0.2.1:4000" || e.Data[logrus.ErrorKey] != errBad {
				t.Errorf("entry %v %q %v, want debug \"malformed request\" with remote and error", e.Level, e.Message, e.Data)
			}
		})
	}
}
