package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2/unstable"
)

// Duration is a time.Duration written in TOML as a string with a unit
// ("60s", "2m"). A bare number is refused: `dial_timeout = 10` would
// otherwise decode as 10 nanoseconds, since the type is an integer
// underneath. Parse checks that before decoding (see checkDurations).
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (like \"60s\"): %q", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText prints the duration as Go does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// durationHint is how a refused duration is to be written.
const durationHint = `a duration is written as a string with a unit, e.g. "10s"`

// DurationKeys returns the dotted keys ("upstream.dial_timeout") whose
// values are durations, found from Config's field types so that a new
// Duration field is covered without a list to keep in step.
func DurationKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			switch {
			case f.Type == reflect.TypeFor[Duration]():
				keys = append(keys, prefix+name)
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, prefix+name+".")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return keys
}

// checkDurations refuses every duration key whose value is not a string,
// naming the file, line and column of the value. A document that does not
// parse is left to the decoder, which reports where.
func checkDurations(name string, data []byte) error {
	want := map[string]bool{}
	for _, k := range DurationKeys() {
		want[k] = true
	}
	var p unstable.Parser
	p.Reset(data)
	var msgs []string
	var check func(prefix []string, kv *unstable.Node)
	check = func(prefix []string, kv *unstable.Node) {
		key := append([]string(nil), prefix...)
		var last unstable.Range
		for it := kv.Key(); it.Next(); {
			key = append(key, string(it.Node().Data))
			last = it.Node().Raw
		}
		v := kv.Value()
		if v.Kind == unstable.InlineTable {
			for it := v.Children(); it.Next(); {
				check(key, it.Node())
			}
			return
		}
		dotted := strings.Join(key, ".")
		if !want[dotted] || v.Kind == unstable.String {
			return
		}
		raw := v.Raw
		if raw.Length == 0 {
			// Arrays carry no range of their own: the value starts
			// after the key's last part and the '='.
			off := int(last.Offset + last.Length)
			for off < len(data) && strings.IndexByte(" \t=", data[off]) >= 0 {
				off++
			}
			raw = unstable.Range{Offset: uint32(off), Length: 1}
		}
		pos := p.Shape(raw).Start
		msgs = append(msgs, fmt.Sprintf("%s:%d:%d: %s: %s", name, pos.Line, pos.Column, dotted, durationHint))
	}
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = table[:0]
			for it := e.Key(); it.Next(); {
				table = append(table, string(it.Node().Data))
			}
		case unstable.KeyValue:
			check(table, e)
		}
	}
	if p.Error() != nil || len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("config: %s", strings.Join(msgs, "; "))
}
