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
