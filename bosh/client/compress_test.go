package client

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"net/http"
	"strings"
	"testing"
)

func TestDecodeBody(t *testing.T) {
	plain := []byte("<body xmlns='http://jabber.org/protocol/httpbind'>" + strings.Repeat("<message/>", 100) + "</body>")
	var gz, zl bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(plain)
	gw.Close()
	zw := zlib.NewWriter(&zl)
	zw.Write(plain)
	zw.Close()
	for _, tt := range []struct {
		enc     string
		raw     []byte
		max     int64
		wantErr bool
	}{
		{"", plain, 1 << 20, false},
		{"identity", plain, 1 << 20, false},
		{"gzip", gz.Bytes(), 1 << 20, false},
		{"GZIP", gz.Bytes(), 1 << 20, false},
		{"deflate", zl.Bytes(), 1 << 20, false},
		{"gzip", gz.Bytes(), int64(len(plain)) - 1, true}, // decodes past the limit
		{"gzip", plain, 1 << 20, true},                    // not gzip
		{"br", plain, 1 << 20, true},                      // not asked for, not known
	} {
		resp := &http.Response{Header: http.Header{}}
		if tt.enc != "" {
			resp.Header.Set("Content-Encoding", tt.enc)
		}
		got, err := decodeBody(resp, tt.raw, tt.max)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s (limit %d): err %v, want error %v", tt.enc, tt.max, err, tt.wantErr)
			continue
		}
		if err == nil && !bytes.Equal(got, plain) {
			t.Errorf("%s: decoded %.60q", tt.enc, got)
		}
	}
}
