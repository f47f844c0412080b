package server

import (
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/connect-secrets/secrets/pkg/secrets"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// statusOf is the one table that maps error codes to HTTP statuses.
var statusOf = map[secrets.Code]int{
	secrets.CodeInvalid:              http.StatusBadRequest,
	secrets.CodeTooLarge:             http.StatusRequestEntityTooLarge,
	secrets.CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	secrets.CodeUnauthorized:         http.StatusUnauthorized,
	secrets.CodeForbidden:            http.StatusForbidden,
	secrets.CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	secrets.CodeNotFound:             http.StatusNotFound,
	secrets.CodeConflict:             http.StatusConflict,
	secrets.CodeWrongPassword:        http.StatusForbidden,
	secrets.CodeLocked:               http.StatusTooManyRequests,
	secrets.CodeRateLimited:          http.StatusTooManyRequests,
	secrets.CodeUnlockRequired:       http.StatusForbidden,
	secrets.CodeLicenceInactive:      http.StatusForbidden,
	secrets.CodeUnavailable:          http.StatusServiceUnavailable,
	secrets.CodeInternal:             http.StatusInternalServerError,
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code         secrets.Code `json:"code"`
	Message      string       `json:"message"`
	RetryAfter   int          `json:"retryAfter,omitempty"`   // seconds
	AttemptsLeft *int         `json:"attemptsLeft,omitempty"` // with wrong_password
}

// handleError is echo's HTTPErrorHandler: every error any handler or
// middleware returns is rendered here, once, as JSON. Internal errors are
// logged with their cause; expected 4xx are logged at debug only.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := toDomainError(err)
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	log := zerolog.Ctx(c.Request().Context())
	if status >= 500 {
		log.Error().Err(err).Str("code", string(e.Code)).Msg("request failed")
	} else {
		log.Debug().Str("code", string(e.Code)).Msg("request refused")
	}
	body := errorBody{Error: errorDetail{Code: e.Code, Message: secrets.ErrorMessage(e), AttemptsLeft: e.AttemptsLeft}}
	if e.RetryAfter > 0 {
		secs := int(math.Ceil(e.RetryAfter.Seconds()))
		body.Error.RetryAfter = secs
		if e.Code == secrets.CodeLocked || e.Code == secrets.CodeRateLimited || e.Code == secrets.CodeUnavailable {
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		}
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if werr := c.JSON(status, body); werr != nil {
		log.Debug().Err(werr).Msg("write error response")
	}
}

// toDomainError turns any error into a *secrets.Error: echo's own errors
// (unknown route, wrong method, body too large) get their matching code;
// anything unrecognised is internal.
func toDomainError(err error) *secrets.Error {
	var e *secrets.Error
	if errors.As(err, &e) {
		return e
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return secrets.Errorf(secrets.CodeNotFound, "Not found.")
		case http.StatusMethodNotAllowed:
			return secrets.Errorf(secrets.CodeMethodNotAllowed, "This method is not allowed here.")
		case http.StatusRequestEntityTooLarge:
			return secrets.Errorf(secrets.CodeTooLarge, "The request body is too large.")
		case http.StatusUnsupportedMediaType:
			return secrets.Errorf(secrets.CodeUnsupportedMediaType, "The request body must be JSON.")
		case http.StatusUnauthorized:
			return secrets.Errorf(secrets.CodeUnauthorized, "Authentication is required.")
		case http.StatusForbidden:
			return secrets.Errorf(secrets.CodeForbidden, "This is not allowed.")
		case http.StatusServiceUnavailable:
			return secrets.Errorf(secrets.CodeUnavailable, "The service is unavailable. Try again shortly.")
		}
		if he.Code >= 400 && he.Code < 500 {
			return secrets.Errorf(secrets.CodeInvalid, "The request is not valid.")
		}
	}
	return secrets.Internal(err)
}
