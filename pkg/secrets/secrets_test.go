package secrets_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connect-secrets/secrets/pkg/secrets"
)

func TestLockoutFor(t *testing.T) {
	p := secrets.DefaultPolicy() // 5 failures → 1 min, doubling, capped at 1 h
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {4, 0}, {5, time.Minute}, {6, 2 * time.Minute}, {7, 4 * time.Minute},
		{10, 32 * time.Minute}, {11, time.Hour}, {1000, time.Hour},
	} {
		if got := p.LockoutFor(tc.failures); got != tc.want {
			t.Errorf("LockoutFor(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := secrets.DefaultPolicy().Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	for name, mutate := range map[string]func(*secrets.Policy){
		"min length below 8":   func(p *secrets.Policy) { p.MinPasswordLen = 7 },
		"min length above 128": func(p *secrets.Policy) { p.MinPasswordLen = 129 },
		"no lockout":           func(p *secrets.Policy) { p.LockoutThreshold = 0 },
		"lockout too short":    func(p *secrets.Policy) { p.LockoutBase = time.Second },
		"max below base":       func(p *secrets.Policy) { p.LockoutMax = p.LockoutBase - time.Second },
		"unlock too short":     func(p *secrets.Policy) { p.UnlockTTL = time.Second },
		"expiry too short":     func(p *secrets.Policy) { p.DefaultExpiry = time.Minute },
	} {
		t.Run(name, func(t *testing.T) {
			p := secrets.DefaultPolicy()
			mutate(&p)
			if got := secrets.ErrorCode(p.Validate()); got != secrets.CodeInvalid {
				t.Errorf("code %q, want invalid", got)
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	p := secrets.DefaultPolicy()
	for pw, ok := range map[string]bool{
		"1234567":                 false,
		"12345678":                true,
		"ééééééé":                 false, // 7 characters, 14 bytes: characters count
		"éééééééé":                true,
		strings.Repeat("a", 1024): true,
		strings.Repeat("a", 1025): false,
		"abcdefgh\xff":            false,
	} {
		if err := p.ValidatePassword(pw); (err == nil) != ok {
			t.Errorf("ValidatePassword(%q...) = %v, want ok=%v", pw[:min(len(pw), 12)], err, ok)
		}
	}
}

func TestContainers(t *testing.T) {
	c, err := secrets.JiraIssueContainer("10001")
	if err != nil || c != "jira:issue:10001" || c.Product() != secrets.ProductJira || !c.HoldsSecrets() {
		t.Errorf("jira: %q %v", c, err)
	}
	c, err = secrets.ConfluenceMacroContainer("123", "3f2a-b")
	if err != nil || c != "confluence:page:123:3f2a-b" || c.Product() != secrets.ProductConfluence {
		t.Errorf("confluence: %q %v", c, err)
	}
	if secrets.AdminContainer.HoldsSecrets() {
		t.Error("the admin container holds secrets")
	}
	// Separators in ids would make two containers one.
	for _, bad := range []string{"", "1:2", "a b", "a/b", strings.Repeat("1", 129)} {
		if _, err := secrets.JiraIssueContainer(bad); err == nil {
			t.Errorf("issue id %q accepted", bad)
		}
		if _, err := secrets.ConfluenceMacroContainer("1", bad); err == nil {
			t.Errorf("macro id %q accepted", bad)
		}
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	e := secrets.Errorf(secrets.CodeConflict, "changed by %s", "someone")
	wrapped := fmt.Errorf("update: %w", e)
	if secrets.ErrorCode(wrapped) != secrets.CodeConflict || secrets.ErrorMessage(wrapped) != "changed by someone" {
		t.Errorf("wrapped: %q %q", secrets.ErrorCode(wrapped), secrets.ErrorMessage(wrapped))
	}
	internal := secrets.Internal(errors.New("disk on fire: /var/lib/secrets"))
	if secrets.ErrorCode(internal) != secrets.CodeInternal || strings.Contains(secrets.ErrorMessage(internal), "disk") {
		t.Errorf("internal error leaks its cause: %q", secrets.ErrorMessage(internal))
	}
	if secrets.ErrorCode(errors.New("plain")) != secrets.CodeInternal || secrets.ErrorCode(nil) != "" {
		t.Error("plain and nil errors")
	}
}

func TestValidSecretID(t *testing.T) {
	for id, ok := range map[string]bool{
		"AAAAAAAAAAAAAAAAAAAAAA": true, "6sxSu8YLKe91nTU2icuWzg": true,
		"short": false, "../../etc/passwd/aaaaaaaaaa": false, "AAAAAAAAAAAAAAAAAAAAA=": false,
	} {
		if secrets.ValidSecretID(id) != ok {
			t.Errorf("ValidSecretID(%q) != %v", id, ok)
		}
	}
}
