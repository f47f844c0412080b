package connect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// ContextQSH is the literal qsh of context tokens (AP.context.getToken()).
// Such a token is not bound to any request, so every route that requires a
// computed qsh must refuse it.
const ContextQSH = "context-qsh"

// CanonicalRequest returns the canonical request Atlassian hashes into a qsh:
// METHOD "&" canonicalPath "&" canonicalQuery.
//
// method is upper-cased; it must be an HTTP token without '&'. rawPath is the
// path exactly as sent, in escaped form (r.URL.EscapedPath(), or the part of
// r.RequestURI before '?'). basePath is the path of the baseUrl the request
// is relative to ("" or e.g. "/wiki"); it is removed from the front of
// rawPath when rawPath is basePath or lies below it. rawQuery is the raw query
// string without the leading '?'; jwt parameters are left out.
//
// canonicalPath is what remains of rawPath, "/" if nothing does, without one
// trailing "/" unless it is the whole path, and with every "&" replaced by
// "%26"; it is otherwise not decoded or re-encoded. canonicalQuery holds every
// parameter except jwt, decoded ('+' is a space) and re-encoded with only the
// RFC 3986 unreserved characters left as they are, the values of a repeated
// name sorted (bytewise, decoded) and joined with ",", the pairs sorted by
// encoded name and joined with "&".
//
// The query is parsed here rather than with url.ParseQuery because that
// silently drops pairs containing ';' and we must not verify a request whose
// parameters we and the host might read differently: a ';' or a malformed
// percent-escape yields ErrBadQuery.
func CanonicalRequest(method, rawPath, rawQuery, basePath string) (string, error) {
	m, err := canonicalMethod(method)
	if err != nil {
		return "", err
	}
	q, err := canonicalQuery(rawQuery)
	if err != nil {
		return "", err
	}
	return m + "&" + canonicalPath(rawPath, basePath) + "&" + q, nil
}

// QSH returns the query string hash of a request: the lower-case hex SHA-256
// of CanonicalRequest(method, rawPath, rawQuery, basePath).
func QSH(method, rawPath, rawQuery, basePath string) (string, error) {
	c, err := CanonicalRequest(method, rawPath, rawQuery, basePath)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(c))
	return hex.EncodeToString(sum[:]), nil
}

// canonicalMethod upper-cases method after checking that it is an HTTP
// token (RFC 9110 tchar) without '&': '&' is the separator of the canonical
// request, and a method containing it could make two different requests
// canonicalise alike.
func canonicalMethod(method string) (string, error) {
	if method == "" {
		return "", fmt.Errorf("%w: empty method", ErrBadQuery)
	}
	for i := 0; i < len(method); i++ {
		if !isMethodChar(method[i]) {
			return "", fmt.Errorf("%w: method is not an HTTP token", ErrBadQuery)
		}
	}
	return strings.ToUpper(method), nil
}

func isMethodChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%'*+-.^_`|~", c) >= 0
}

// canonicalPath implements the path half of the canonical request.
func canonicalPath(rawPath, basePath string) string {
	base := strings.TrimRight(basePath, "/")
	if base != "" && base[0] != '/' {
		base = "/" + base
	}
	p := rawPath
	// Only strip at a segment boundary: a base path of "/wiki" must not turn
	// "/wikipedia" into "/pedia".
	if base != "" && (p == base || strings.HasPrefix(p, base+"/")) {
		p = p[len(base):]
	}
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	// Atlassian's libraries drop exactly one trailing slash.
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return strings.ReplaceAll(p, "&", "%26")
}

// canonicalQuery implements the query half of the canonical request.
func canonicalQuery(rawQuery string) (string, error) {
	if rawQuery == "" {
		return "", nil
	}
	// One flat list of (encoded name, decoded value) pairs, sorted by name
	// and then value, gives Atlassian's order: names by their encoding (which
	// is injective, so this is a total order on the decoded names too) and
	// each name's values sorted decoded, then encoded and joined with ','.
	// Flat, because this runs on every module page: a map and a slice per
	// name cost more than the hashing.
	type pair struct{ name, value string }
	var stack [16]pair
	pairs := stack[:0]
	err := parseQuery(rawQuery, func(name, value string) {
		if name != "jwt" {
			pairs = append(pairs, pair{percentEncode(name), value})
		}
	})
	if err != nil {
		return "", err
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})

	var b strings.Builder
	b.Grow(len(rawQuery) + len(rawQuery)/2)
	for i, p := range pairs {
		switch {
		case i == 0:
		case p.name == pairs[i-1].name:
			b.WriteByte(',')
			writePercentEncoded(&b, p.value)
			continue
		default:
			b.WriteByte('&')
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		writePercentEncoded(&b, p.value)
	}
	return b.String(), nil
}

// parseQuery calls fn with every decoded name and value of rawQuery in
// order. Empty pairs ("a=1&&b=2") are skipped; a pair without '=' has an
// empty value. It refuses what url.ParseQuery refuses (';' and malformed
// escapes) instead of skipping it, so that no parameter the application
// might read escapes the qsh.
func parseQuery(rawQuery string, fn func(name, value string)) error {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		if strings.IndexByte(pair, ';') >= 0 {
			return fmt.Errorf("%w: ';' in query", ErrBadQuery)
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return fmt.Errorf("%w: malformed escape in query", ErrBadQuery)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return fmt.Errorf("%w: malformed escape in query", ErrBadQuery)
		}
		fn(name, value)
	}
	return nil
}

const upperHex = "0123456789ABCDEF"

// isUnreserved reports whether c is in the RFC 3986 unreserved set, the only
// bytes Atlassian leaves unescaped in a canonical query.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// percentEncode returns s percent-encoded; s itself, without allocating, when
// it is all unreserved bytes, as parameter names almost always are.
func percentEncode(s string) string {
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		clean = isUnreserved(s[i])
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	writePercentEncoded(&b, s)
	return b.String()
}

func writePercentEncoded(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0x0f])
	}
}
