package replicas

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request is one call to a replica's JSON API, as the browser app makes it.
type Request struct {
	Method  string
	Path    string // below the replica's URL, e.g. /api/secrets
	Session string // the session token, sent as Authorization: JWT …
	Unlock  string // the unlock token, sent as X-Unlock-Token when set
	Body    any    // sent as JSON when not nil
}

// Response is a replica's answer, read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Code is the error code of an error answer ({"error": {"code": …}}), or
// "" for any other.
func (r Response) Code() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Decode decodes the JSON body into v.
func (r Response) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decoding a %d answer: %w", r.Status, err)
	}
	return nil
}

func (r Response) String() string {
	return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body))
}

// Secret is a secret as the API shows it, the fields the harness's users
// read: metadata, and after an unlock or edit the content and unlock token.
type Secret struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Version     int       `json:"version"`
	Content     string    `json:"content"`
	UnlockToken string    `json:"unlockToken"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

// Do sends req to r with c. An error means no answer came (the replica is
// gone, say); any status is a Response.
func (r *Replica) Do(ctx context.Context, c *http.Client, req Request) (Response, error) {
	var body io.Reader
	if req.Body != nil {
		b, err := json.Marshal(req.Body)
		if err != nil {
			return Response{}, err
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, r.URL+req.Path, body)
	if err != nil {
		return Response{}, err
	}
	if req.Session != "" {
		hr.Header.Set("Authorization", "JWT "+req.Session)
	}
	if req.Unlock != "" {
		hr.Header.Set("X-Unlock-Token", req.Unlock)
	}
	if req.Body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(hr)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return Response{}, err
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// Metric returns the sum of the samples of the Prometheus metric name on
// r's /metrics whose labels include every one of match (each written as in
// the exposition format, e.g. `outcome="ok"`).
func (r *Replica) Metric(ctx context.Context, c *http.Client, name string, match ...string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.OpsURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics of %s: %s", r.Name, res.Status)
	}
	var sum float64
	found := false
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		series, value, ok := cutLast(rest, " ")
		if !ok || !containsAll(series, match) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return 0, fmt.Errorf("metrics of %s: %q: %w", r.Name, line, err)
		}
		sum, found = sum+v, true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found && len(match) == 0 {
		return 0, fmt.Errorf("metrics of %s: no %s", r.Name, name)
	}
	return sum, nil
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
