package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

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
