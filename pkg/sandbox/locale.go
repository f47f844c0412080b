package sandbox

import (
	"regexp"

	"github.com/labstack/echo/v4"
)

// hostLang is the user's language and time zone as a host tells the app:
// Connect appends them to module URLs (loc, tz), Forge puts them in the
// frame's context (locale, timezone).
type hostLang struct{ locale, timezone string }

// defaultLang is what the dev sites say when a page's URL does not choose.
var defaultLang = hostLang{locale: "en-US", timezone: "UTC"}

var (
	// A short BCP 47 tag: a language, then up to three subtags (script,
	// region, variant), as Atlassian's locales are ("de-DE", "zh-Hant-TW").
	localePattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$`)
	// An IANA-looking zone: "UTC", "Europe/Berlin", "America/Argentina/Salta",
	// "Etc/GMT+5". Whether the zone exists is the browser's question.
	zonePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]{1,30}(/[A-Za-z0-9_+-]{1,30}){0,2}$`)
)

// langFrom reads the page URL's loc and tz, so a sandbox page can show the
// app as a user with another language or zone sees it. A value that does
// not look like a locale or zone keeps the default: these end up in signed
// URLs and in the app's page, and junk there would only hide mistakes.
func langFrom(c echo.Context) hostLang {
	l := defaultLang
	if v := c.QueryParam("loc"); len(v) <= 35 && localePattern.MatchString(v) {
		l.locale = v
	}
	if v := c.QueryParam("tz"); len(v) <= 64 && zonePattern.MatchString(v) {
		l.timezone = v
	}
	return l
}
