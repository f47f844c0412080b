package seal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/connect-secrets/secrets/pkg/seal"
)

// fastParams are the cheapest parameters Validate accepts, so tests (also
// under -race) stay quick.
var fastParams = seal.MinKDFParams

// MustNewKDF returns a KDF with room for calls derivations of fastParams.
func MustNewKDF(tb testing.TB, calls int64) *seal.KDF {
	tb.Helper()
	k, err := seal.NewKDF(calls*int64(fastParams.Memory)*1024, fastParams)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// MustNewParams returns fresh parameters from k or fails the test.
func MustNewParams(tb testing.TB, k *seal.KDF) seal.KDFParams {
	tb.Helper()
	p, err := k.NewParams()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestKDFDeriveKey(t *testing.T) {
	ctx := t.Context()
	kdf := MustNewKDF(t, 1)
	p := MustNewParams(t, kdf)

	kek, err := kdf.DeriveKey(ctx, []byte("correct horse"), p)
	if err != nil {
		t.Fatalf("DeriveKey: %v", err)
	}
	if kek.ID() != 0 {
		t.Errorf("KEK id = %d, want 0", kek.ID())
	}
	dek := MustRandomKey(t)
	ad := seal.AD("tenant", "c1", "secrets", "s1", "dek")
	wrapped := MustSeal(t, kek, dek, ad)

	otherSalt := MustNewParams(t, kdf)
	moreTime := p
	moreTime.Time++
	tests := []struct {
		name     string
		password string
		params   seal.KDFParams
		wantOpen bool
	}{
		{"same password and params", "correct horse", p, true},
		{"wrong password", "correct horsE", p, false},
		{"empty password", "", p, false},
		{"other salt", "correct horse", otherSalt, false},
		{"other time", "correct horse", moreTime, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := kdf.DeriveKey(ctx, []byte(tt.password), tt.params)
			if err != nil {
				t.Fatalf("DeriveKey: %v", err)
			}
			got, err := k.Open(wrapped, ad)
			switch {
			case tt.wantOpen && (err != nil || !bytes.Equal(got, dek)):
				t.Errorf("Open = %v; want the DEK", err)
			case !tt.wantOpen && !errors.Is(err, seal.ErrOpen):
				t.Errorf("Open: err = %v, want ErrOpen", err)
			}
		})
	}
	if got := kdf.Stats(); got.Completed != 1+uint64(len(tests)) || got.Running != 0 || got.Waiting != 0 {
		t.Errorf("Stats = %+v, want %d completed and nothing running or waiting", got, 1+len(tests))
	}
}

func TestKDFDeriveKeyInvalidParams(t *testing.T) {
	kdf := MustNewKDF(t, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // validation comes first: an invalid request is never "busy"
	p := fastParams
	p.Salt = make([]byte, 8)
	_, err := kdf.DeriveKey(ctx, []byte("pw"), p)
	if err == nil || errors.Is(err, seal.ErrBusy) {
		t.Fatalf("DeriveKey with a short salt: err = %v, want a validation error", err)
	}
	if got := kdf.Stats(); got != (seal.KDFStats{}) {
		t.Errorf("Stats = %+v, want untouched", got)
	}
}

func TestKDFDeriveKeyDoneContext(t *testing.T) {
	kdf := MustNewKDF(t, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := kdf.DeriveKey(ctx, []byte("pw"), MustNewParams(t, kdf)); err != seal.ErrBusy {
		t.Fatalf("DeriveKey with a done context: err = %v, want ErrBusy", err)
	}
	if got := kdf.Stats().Completed; got != 0 {
		t.Errorf("Completed = %d, want 0", got)
	}
}

func TestKDFParamsValidate(t *testing.T) {
	salt := make([]byte, 16)
	with := func(f func(*seal.KDFParams)) seal.KDFParams {
		p := seal.KDFParams{Memory: 19 * 1024, Time: 2, Threads: 1, Salt: salt}
		f(&p)
		return p
	}
	tests := []struct {
		name         string
		p            seal.KDFParams
		wantValid    bool
		wantTemplate bool
	}{
		{"floor", with(func(*seal.KDFParams) {}), true, true},
		{"default with salt", with(func(p *seal.KDFParams) { *p = seal.DefaultKDFParams; p.Salt = salt }), true, true},
		{"default template", seal.DefaultKDFParams, false, true},
		{"min template", seal.MinKDFParams, false, true},
		{"memory below floor", with(func(p *seal.KDFParams) { p.Memory = 19*1024 - 1 }), false, false},
		{"time below floor", with(func(p *seal.KDFParams) { p.Time = 1 }), false, false},
		{"zero time", with(func(p *seal.KDFParams) { p.Time = 0 }), false, false},
		{"zero threads", with(func(p *seal.KDFParams) { p.Threads = 0 }), false, false},
		{"max memory", with(func(p *seal.KDFParams) { p.Memory = 1 << 22 }), true, true},
		{"memory above cap", with(func(p *seal.KDFParams) { p.Memory = 1<<22 + 1 }), false, false},
		{"max time", with(func(p *seal.KDFParams) { p.Time = 64 }), true, true},
		{"time above cap", with(func(p *seal.KDFParams) { p.Time = 65 }), false, false},
		{"max threads", with(func(p *seal.KDFParams) { p.Threads = 255 }), true, true},
		{"no salt", with(func(p *seal.KDFParams) { p.Salt = nil }), false, true},
		{"salt 15 bytes", with(func(p *seal.KDFParams) { p.Salt = make([]byte, 15) }), false, true},
		{"salt 64 bytes", with(func(p *seal.KDFParams) { p.Salt = make([]byte, 64) }), true, true},
		{"salt 65 bytes", with(func(p *seal.KDFParams) { p.Salt = make([]byte, 65) }), false, true},
		{"zero value", seal.KDFParams{}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.wantValid {
				t.Errorf("Validate = %v, want valid = %v", err, tt.wantValid)
			}
			if err := tt.p.ValidateTemplate(); (err == nil) != tt.wantTemplate {
				t.Errorf("ValidateTemplate = %v, want valid = %v", err, tt.wantTemplate)
			}
		})
	}
}

func TestKDFParamsWeaker(t *testing.T) {
	target := seal.DefaultKDFParams
	tests := []struct {
		name string
		p    seal.KDFParams
		want bool
	}{
		{"same", target, false},
		{"less memory", seal.KDFParams{Memory: target.Memory - 1, Time: target.Time, Threads: target.Threads}, true},
		{"less time", seal.KDFParams{Memory: target.Memory, Time: target.Time - 1, Threads: target.Threads}, true},
		{"more memory, less time", seal.KDFParams{Memory: target.Memory * 2, Time: target.Time - 1, Threads: target.Threads}, true},
		{"stronger", seal.KDFParams{Memory: target.Memory * 2, Time: target.Time + 1, Threads: target.Threads}, false},
		{"fewer threads only", seal.KDFParams{Memory: target.Memory, Time: target.Time, Threads: 1}, false},
		{"floor", seal.MinKDFParams, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Weaker(target); got != tt.want {
				t.Errorf("Weaker = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewKDF(t *testing.T) {
	one := int64(fastParams.Memory) * 1024
	weak := fastParams
	weak.Time = 1
	tests := []struct {
		name     string
		budget   int64
		defaults seal.KDFParams
		wantErr  bool
	}{
		{"one call", one, fastParams, false},
		{"default params, 256 MiB", 256 << 20, seal.DefaultKDFParams, false},
		{"budget below one call", one - 1, fastParams, true},
		{"zero budget", 0, fastParams, true},
		{"invalid defaults", one, weak, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := seal.NewKDF(tt.budget, tt.defaults)
			if (err != nil) != tt.wantErr {
				t.Errorf("NewKDF: err = %v, want error = %v", err, tt.wantErr)
			}
		})
	}
}

func TestKDFNewParams(t *testing.T) {
	template := fastParams
	template.Salt = []byte("a shared salt is a bad salt")
	kdf, err := seal.NewKDF(256<<20, template)
	if err != nil {
		t.Fatal(err)
	}
	if got := kdf.Defaults(); got.Salt != nil || got.Memory != fastParams.Memory || got.Time != fastParams.Time || got.Threads != fastParams.Threads {
		t.Errorf("Defaults = %+v, want %+v without a salt", got, fastParams)
	}
	a, b := MustNewParams(t, kdf), MustNewParams(t, kdf)
	if err := a.Validate(); err != nil {
		t.Errorf("NewParams is invalid: %v", err)
	}
	if len(a.Salt) != 16 {
		t.Errorf("len(Salt) = %d, want 16", len(a.Salt))
	}
	if bytes.Equal(a.Salt, b.Salt) {
		t.Error("two NewParams share a salt")
	}
	if a.Weaker(kdf.Defaults()) {
		t.Error("NewParams is weaker than the defaults")
	}
}

func TestKDFParamsJSON(t *testing.T) {
	p := seal.KDFParams{Memory: 65536, Time: 3, Threads: 4, Salt: []byte("0123456789abcdef")}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	// The stored form: short keys, salt in standard base64.
	if got, want := string(data), `{"m":65536,"t":3,"p":4,"s":"MDEyMzQ1Njc4OWFiY2RlZg=="}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	var back seal.KDFParams
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Memory != p.Memory || back.Time != p.Time || back.Threads != p.Threads || !bytes.Equal(back.Salt, p.Salt) {
		t.Errorf("round trip = %+v, want %+v", back, p)
	}
}
