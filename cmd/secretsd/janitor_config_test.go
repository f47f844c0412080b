package main

import (
	"io"
	"testing"
	"time"
)

func TestParseConfigJanitorInterval(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want time.Duration
	}{
		{nil, nil, time.Minute},
		{[]string{"--janitor-interval", "2s"}, nil, 2 * time.Second},
		{nil, []string{"SECRETS_JANITOR_INTERVAL", "5m"}, 5 * time.Minute},
		{[]string{"--janitor-interval", "1s"}, []string{"SECRETS_JANITOR_INTERVAL", "5m"}, time.Second},
	} {
		c, err := ParseConfig(tc.args, env(tc.env...), io.Discard)
		if err != nil {
			t.Fatalf("%v %v: %v", tc.args, tc.env, err)
		}
		if got := c.JanitorInterval; got != tc.want {
			t.Errorf("%v %v: got %s, want %s", tc.args, tc.env, got, tc.want)
		}
	}
	for _, bad := range []string{"0", "500ms", "-1m", "25h", "often"} {
		if _, err := ParseConfig([]string{"--janitor-interval", bad}, env(), io.Discard); err == nil {
			t.Errorf("--janitor-interval %s: accepted", bad)
		}
	}
}
