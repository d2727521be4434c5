package relay

import (
	"io"

	"github.com/sirupsen/logrus"
)

// DiscardLogger is the logger a front end uses when it was given none.
func DiscardLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// LevelEnabled reports whether l writes entries at level. logrus checks
// the level only when an entry is written, after WithField and WithError
// have built it: a path every request may take (a malformed request, a
// refused body) asks first, so that it builds nothing when the level is
// off. A logger of a kind that cannot say is taken to write everything.
func LevelEnabled(l logrus.FieldLogger, level logrus.Level) bool {
	switch l := l.(type) {
	case *logrus.Entry:
		return l.Logger.IsLevelEnabled(level)
	case interface{ IsLevelEnabled(logrus.Level) bool }: // *logrus.Logger
		return l.IsLevelEnabled(level)
	}
	return true
}

// LogRequest logs msg with err about a request from remote at level on
// f.Log, building the entry only when that level is written (see
// LevelEnabled): what a front end logs of a request it refuses.
func (f *FrontEnd) LogRequest(level logrus.Level, remote string, err error, msg string) {
	if !LevelEnabled(f.Log, level) {
		return
	}
	f.Log.WithField("remote", remote).WithError(err).Log(level, msg)
}
