package secrets_test

import (
	"testing"

	"github.com/connect-secrets/secrets/pkg/secrets"
)

// TestValidateTitleRefusesDeceptiveTitles: titles are shown to everyone on
// the issue or page, so characters that hide or reorder text are refused.
func TestValidateTitleRefusesDeceptiveTitles(t *testing.T) {
	for name, title := range map[string]string{
		"NUL":                    "db\x00password",
		"newline":                "line one\nline two",
		"tab":                    "a\tb",
		"escape":                 "a\x1b[31mred",
		"DEL":                    "a\x7f",
		"C1 control":             "a\u0085b",
		"line separator":         "a\u2028b",
		"paragraph separator":    "a\u2029b",
		"RLO override":           "invoice\u202Efdp.exe",
		"LRE embedding":          "a\u202Ab",
		"PDF":                    "a\u202Cb",
		"RLI isolate":            "a\u2067b",
		"PDI":                    "a\u2069b",
		"RLM mark":               "a\u200Fb",
		"LRM mark":               "a\u200Eb",
		"Arabic letter mark":     "a\u061Cb",
		"zero-width space only":  "\u200B\u200B",
		"BOM only":               "\uFEFF",
		"word joiner and spaces": " \u2060 ",
		"Hangul filler only":     "\u3164",
		"braille blank only":     "\u2800\u2800",
		"combining marks only":   "\u0301\u0301",
		"ideographic space only": "\u3000",
	} {
		t.Run(name, func(t *testing.T) {
			if got := secrets.ErrorCode(secrets.ValidateTitle(title)); got != secrets.CodeInvalid {
				t.Errorf("ValidateTitle(%q) = %q, want %q", title, got, secrets.CodeInvalid)
			}
		})
	}
	for _, ok := range []string{
		"Database password", "Zugangsdaten für den Server", "パスワード", "مفتاح الخادم",
		"emoji 🔑 key", "e\u0301 combining after a letter", "zero\u200Bwidth inside visible text",
		"👩\u200D💻 joiner inside an emoji",
	} {
		if err := secrets.ValidateTitle(ok); err != nil {
			t.Errorf("ValidateTitle(%q) = %v, want nil", ok, err)
		}
	}
}
