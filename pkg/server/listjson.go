package server

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/labstack/echo/v4"
)

// The list route's response is written by hand: it is the app's hottest
// read, and encoding/json's reflection and allocations were a quarter of
// its CPU. The bytes are exactly what encoding/json writes for the page
// {"secrets": [secretJSON…], "next": cursor}, next left out when empty
// (FuzzListJSON checks it), so clients see no change.

// listBody is a list page's response, in JSON and, made when a client
// first asks for it, gzip-compressed. A 20-secret page is about 4.5 KB,
// which with its headers outgrows net/http's 4 KB connection buffer and
// takes two TCP sends; compressed it is about 1 KB and one. Browsers ask
// for gzip. Compression is safe here against length side channels
// (BREACH): a list carries no token, password or secret body, only what
// everyone who can see the container, and so inject a title, may read.
type listBody struct {
	json     []byte
	gzipOnce sync.Once
	gzip     []byte // nil if compressing failed: then JSON is sent
}

func newListBody(l *secrets.SecretList) any { return &listBody{json: encodeList(l)} }

// send writes the body as the client accepts it, with its length, so
// net/http need not chunk it.
func (b *listBody) send(c echo.Context) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	body := b.json
	if acceptsGzip(c.Request().Header.Values(echo.HeaderAcceptEncoding)) {
		b.gzipOnce.Do(func() { b.gzip = gzipped(b.json) })
		if b.gzip != nil {
			body = b.gzip
			h.Set(echo.HeaderContentEncoding, "gzip")
		}
	}
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	c.Response().WriteHeader(http.StatusOK)
	_, err := c.Response().Write(body)
	return err
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil
	}
	if _, err := w.Write(b); err != nil || w.Close() != nil {
		return nil
	}
	return buf.Bytes()
}

// acceptsGzip reads Accept-Encoding headers: gzip (or x-gzip) listed
// without q=0. A * is not taken to mean gzip.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.TrimSpace(coding)
			if !strings.EqualFold(coding, "gzip") && !strings.EqualFold(coding, "x-gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.ReplaceAll(strings.TrimSpace(params), " ", ""), "q=")
			if !ok {
				return true
			}
			if f, err := strconv.ParseFloat(q, 64); err == nil && f > 0 {
				return true
			}
		}
	}
	return false
}

// encodeList is the response body of the list l.
func encodeList(l *secrets.SecretList) []byte {
	n := 32 + len(l.Next)
	for _, m := range l.Secrets {
		n += 200 + len(m.ID) + len(m.Title) + len(m.CreatedBy) + len(m.UpdatedBy)
	}
	return appendListJSON(make([]byte, 0, n), l)
}

// appendListJSON appends the JSON of l and a newline, as json.Encoder would.
func appendListJSON(b []byte, l *secrets.SecretList) []byte {
	b = append(b, `{"secrets":[`...)
	for i, m := range l.Secrets {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSecretJSON(b, m)
	}
	b = append(b, ']')
	if l.Next != "" {
		b = append(b, `,"next":`...)
		b = appendJSONString(b, l.Next)
	}
	return append(b, "}\n"...)
}

// appendSecretJSON appends what encoding/json writes for toJSON(m).
func appendSecretJSON(b []byte, m secrets.Secret) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, m.ID)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, m.Title)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(m.Version), 10)
	b = append(b, `,"createdAt":`...)
	b = appendJSONTime(b, m.CreatedAt)
	b = append(b, `,"createdBy":`...)
	b = appendJSONString(b, m.CreatedBy)
	b = append(b, `,"updatedAt":`...)
	b = appendJSONTime(b, m.UpdatedAt)
	b = append(b, `,"updatedBy":`...)
	b = appendJSONString(b, m.UpdatedBy)
	if !m.ExpiresAt.IsZero() {
		b = append(b, `,"expiresAt":`...)
		b = appendJSONTime(b, m.ExpiresAt)
	}
	return append(b, '}')
}

// appendJSONTime is time.Time's MarshalJSON of t in UTC, for the years
// 0 to 9999 it accepts (the store holds no others).
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as encoding/json encodes a string with its
// default HTML escaping: quotes, backslash and control characters escaped,
// <, > and & as \u003c, \u003e and \u0026, U+2028 and U+2029 escaped, and
// each byte of invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
