package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/labstack/echo/v4"
)

// Body limits. JSON may escape one byte of content as six (\u00XX), so the
// limit of a body carrying content allows for that; the service then checks
// the decoded lengths.
const (
	limitSmallBody   = 8 << 10
	limitContentBody = 6*secrets.MaxContentBytes + 16<<10
)

// bindJSON decodes the request body into v: the content type must be JSON,
// the body at most limit bytes, one JSON object with no unknown fields and
// nothing after it. Every failure is a 4xx *secrets.Error, before any work
// is done.
func bindJSON(c echo.Context, limit int64, v any) error {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return secrets.Errorf(secrets.CodeUnsupportedMediaType, "The request body must be application/json.")
	}
	if r.ContentLength > limit {
		return secrets.Errorf(secrets.CodeTooLarge, "The request body is too large.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return secrets.Errorf(secrets.CodeTooLarge, "The request body is too large.")
		}
		return secrets.Errorf(secrets.CodeInvalid, "The request body could not be read.")
	}
	defer clear(body) // it may hold a password or content
	// encoding/json replaces invalid UTF-8 and lone surrogate escapes with
	// U+FFFD and matches keys case-insensitively, keeping the last of
	// duplicates: the service would then check, and store, something other
	// than what was sent. Refuse all of that on the raw body first.
	if !utf8.Valid(body) {
		return secrets.Errorf(secrets.CodeInvalid, "The request body must be valid UTF-8.")
	}
	if err := checkJSONKeys(body, fieldNames(v)); err != nil {
		return err
	}
	if hasLoneSurrogate(body) {
		return secrets.Errorf(secrets.CodeInvalid, "The request body holds an invalid \\u escape (a lone surrogate).")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return secrets.Errorf(secrets.CodeInvalid, "The request body must hold one JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return secrets.Errorf(secrets.CodeInvalid, "The request body must hold one JSON object.")
	}
	return nil
}

// jsonError describes a decoding error without echoing the input, which may
// be a password.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return secrets.Errorf(secrets.CodeInvalid, "The field %q has the wrong type.", typeErr.Field)
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return secrets.Errorf(secrets.CodeInvalid, "The request body is not valid JSON.")
	}
	// Unknown fields land here: encoding/json has no typed error for them.
	return secrets.Errorf(secrets.CodeInvalid, "The request body has fields this route does not accept.")
}

// fieldNames returns the JSON names of the fields of the struct v points to,
// or nil when v is not a pointer to a struct.
func fieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	names := map[string]bool{}
	for f := range t.Elem().Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = true
	}
	return names
}

// checkJSONKeys walks body token by token and refuses, in any object, a key
// that repeats another one (also when they differ only in case, since
// encoding/json would fold them onto one field), and at the top level a key
// that is not exactly one of fields when fields is set (a case variant such
// as "Password" would otherwise be accepted as "password"). Syntax errors are
// left to the decoder that runs next, which describes them.
func checkJSONKeys(body []byte, fields map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object  bool
		wantKey bool
		keys    map[string]bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // EOF or a syntax error: the decoder reports it
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			key, _ := tok.(string) // in key position Token returns strings or '}'
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			folded := strings.ToLower(key)
			if top.keys[folded] {
				return secrets.Errorf(secrets.CodeInvalid, "The request body repeats the field %q.", printableKey(key))
			}
			top.keys[folded] = true
			if len(stack) == 1 && fields != nil && !fields[key] {
				return secrets.Errorf(secrets.CodeInvalid, "The request body has the field %q, which this route does not accept (names are case-sensitive).", printableKey(key))
			}
			top.wantKey = false
			continue
		}
		if top != nil && top.object {
			top.wantKey = true // this token is a value; a key comes next
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantKey: true, keys: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			if top := len(stack); top > 0 && stack[top-1].object {
				stack[top-1].wantKey = true
			}
		}
	}
}

// printableKey shortens a client-chosen key for an error message. Keys are
// field names, never values, so they hold no password or content.
func printableKey(k string) string {
	if utf8.RuneCountInString(k) > 40 {
		k = string([]rune(k)[:40]) + "…"
	}
	return strings.ToValidUTF8(k, "")
}

// hasLoneSurrogate reports whether a string in the JSON text body holds a
// \uD800-\uDFFF escape that is not half of a valid pair; encoding/json would
// silently decode it as U+FFFD.
func hasLoneSurrogate(body []byte) bool {
	inString := false
	for i := 0; i < len(body); i++ {
		b := body[i]
		if !inString {
			if b == '"' {
				inString = true
			}
			continue
		}
		switch b {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(body) {
				return false
			}
			if body[i+1] != 'u' {
				i++ // a two-character escape such as \\ or \"
				continue
			}
			r, ok := hex4(body, i+2)
			if !ok {
				return false // a syntax error: the decoder reports it
			}
			switch {
			case r >= 0xD800 && r < 0xDC00:
				low, ok := hex4(body, i+8)
				if !ok || body[i+6] != '\\' || body[i+7] != 'u' || low < 0xDC00 || low > 0xDFFF {
					return true
				}
				i += 11
			case r >= 0xDC00 && r <= 0xDFFF:
				return true
			default:
				i += 5
			}
		}
	}
	return false
}

// hex4 reads four hex digits at body[i:].
func hex4(body []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
