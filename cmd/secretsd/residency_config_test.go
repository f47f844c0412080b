package main

import (
	"io"
	"testing"
)

func TestParseConfigLicensingAndRegions(t *testing.T) {
	const key = "iDr2rY6r2xFc0be/rcUZmNOgq8HawLUkjcvdoupdHy4="
	c, err := ParseConfig([]string{"--licensing", "true", "--region-urls", "eu=https://eu.example.com/", "--region-transfer-keys", "EU=" + key},
		env("SECRETS_FORGE_LICENSING", "true"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Licensing || !c.ForgeLicensing || c.Regions["EU"].BaseURL != "https://eu.example.com" || c.Regions["EU"].TransferKey.String() != key {
		t.Errorf("got licensing %v/%v, regions %+v", c.Licensing, c.ForgeLicensing, c.Regions)
	}
	if c, err := ParseConfig(nil, env(), io.Discard); err != nil || c.Licensing || c.ForgeLicensing || c.Regions != nil {
		t.Errorf("defaults: %+v %v", c, err)
	}
	for name, args := range map[string][]string{
		"licensing not a boolean": {"--licensing", "maybe"},
		"url without a key":       {"--region-urls", "EU=https://eu.example.com"},
		"key without a url":       {"--region-transfer-keys", "EU=" + key},
		"bad key":                 {"--region-urls", "EU=https://eu.example.com", "--region-transfer-keys", "EU=short"},
		"not a pair":              {"--region-urls", "https://eu.example.com", "--region-transfer-keys", "EU=" + key},
	} {
		if _, err := ParseConfig(args, env(), io.Discard); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
