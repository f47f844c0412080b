package main

// The machinery of the browser tests (browser_test.go): the real secretsd in
// dev mode, a headless Chromium driven through chromedp, tabs that record
// everything the page logs and requests, and a small vocabulary for the app
// inside its iframes (scopes, fields by label, buttons by text).
//
// Everything in a frame runs through Runtime.callFunctionOn in that frame's
// own JavaScript context. chromedp's Poll is not used: it builds its
// predicate with new Function, which the app's and the sandbox's CSP
// (no 'unsafe-eval') refuse, and that refusal would itself be a console
// error. Functions that DevTools calls are not subject to the page's CSP.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var updateScreenshots = flag.Bool("update-screenshots", false,
	"write the README screenshots to static/screenshots/ (they always go to test-artifacts/screenshots/)")

const (
	// testTimeout bounds everything one browser subtest does.
	testTimeout = 60 * time.Second
	// stepTimeout bounds one wait or action, so that a stuck step fails
	// with its own message and leaves time to save the artifacts.
	stepTimeout = 15 * time.Second
	// pollInterval is how often a wait looks again.
	pollInterval = 20 * time.Millisecond

	// cdnHost is the only host besides the app's own that pages may load
	// from: Atlassian's all.js (the sandbox serves a stand-in, so in these
	// tests nothing should come from it, but it is allowed).
	cdnHost = "connect-cdn.atl-paas.net"
)

// ---- the server and the browser ---------------------------------------------

// startServer runs the real secretsd through Run in dev mode on a random
// loopback port, with its data in a temporary directory and a key
// derivation cheap enough for tests, and stops it when t ends. It returns
// the base URL, under which Run mounts the sandbox at /dev/.
func startServer(t *testing.T) string {
	t.Helper()
	// Run wants an address, not a listener: find a free port and hand it
	// over. Another process could take it in between; on a test machine
	// that does not happen in practice.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	args := []string{
		"--addr", addr, "--ops-addr", "127.0.0.1:0", "--backup-addr", "127.0.0.1:0", "--base-url", base,
		"--data", filepath.Join(t.TempDir(), "data", "secrets.db"),
		"--kdf-memory", "19456", "--kdf-time", "2", "--kdf-threads", "1", "--kdf-memory-budget", "128MiB",
		"--log-level", "warn", "--log-format", "json",
	}
	go func() {
		done <- Run(ctx, args, env(), testWriter{t}, func(_, _ net.Addr) { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("secretsd stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("secretsd did not start within 30s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("secretsd shutdown: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("secretsd did not stop within 30s of cancel")
		}
	})
	return base
}

// testWriter sends the server's log lines (warnings and errors only, with
// --log-level warn) to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log("secretsd: " + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// chromiumPath finds the browser as `make browser` does: $CHROMIUM, else
// chromium on the PATH, else Debian's package. A missing browser fails the
// test rather than skipping it, so that a machine without one cannot pass
// by testing nothing.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the browser tests need Chromium at %s (or set $CHROMIUM): %v\n"+
			"`make test` installs it (Debian's chromium package; as root, as in CI)", path, err)
	}
	return path
}

// startBrowser starts a headless Chromium with a fresh profile and returns
// the context of its first tab. Tabs made from it with chromedp.NewContext
// share the browser. It is stopped, and its process waited for, when t ends.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	// DefaultExecAllocatorOptions already carry headless, no-first-run,
	// disable-background-networking, disable-sync, disable-default-apps,
	// disable-extensions, disable-dev-shm-usage, and the flags that stop
	// Chromium from throttling timers in windows it thinks are hidden
	// (each tab gets a window of its own; the tests have two users' tabs
	// open at once).
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		// The profile directory is registered with t before the cleanup
		// below, so it is removed only after the browser has exited.
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser process to exit
	})
	// The first Do starts the browser and binds it to ctx, so it must not
	// carry a deadline; a start that hangs is caught here instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting Chromium: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Chromium did not start within 30s")
	}
	return ctx
}

// repoRoot is the directory of go.mod; tests run in the package directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// suite is what every browser subtest shares: one server and one browser.
type suite struct {
	base    string          // the app's base URL, http://127.0.0.1:<port>
	origin  *url.URL        // parsed base
	browser context.Context // the browser's first tab; new tabs derive from it
	root    string          // the repository, for artifacts and screenshots
}

// session is one subtest's use of the browser: its deadline, and the tabs
// it opened (for the artifacts of a failure).
type session struct {
	t        *testing.T
	s        *suite
	deadline time.Time
	mu       sync.Mutex
	tabs     []*tab
}

// begin starts a subtest's session. Everything it does in the browser
// must finish within testTimeout (or before the go test -timeout, whichever
// comes first).
func (s *suite) begin(t *testing.T) *session {
	deadline := time.Now().Add(testTimeout)
	if d, ok := t.Deadline(); ok && d.Add(-5*time.Second).Before(deadline) {
		deadline = d.Add(-5 * time.Second)
	}
	ss := &session{t: t, s: s, deadline: deadline}
	// Registered before any tab opens, so it runs after every tab's own
	// checks (cleanups run last-in first-out): the artifacts then cover
	// the checks' failures too, and the tabs close last.
	t.Cleanup(func() {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		ss.saveArtifactsOnFailure()
		for _, p := range ss.tabs {
			p.close()
		}
	})
	return ss
}

// ---- tabs -----------------------------------------------------------------

// tab is one browser tab showing a sandbox page. It records, from the
// moment it opens, what the page and its frames log, throw and request,
// and checks all of it when the subtest ends.
type tab struct {
	t    *testing.T
	s    *suite
	name string // names the artifacts: "ada", "reggie"

	// ctx runs actions: it is the tab's chromedp context with the
	// subtest's deadline. tabCtx is the tab without the deadline, to
	// save artifacts after the deadline struck.
	ctx, tabCtx context.Context

	close     func() // closes the tab
	rec       *recorder
	mainFrame cdp.FrameID // the top-level frame, once a page has loaded
	frames    []*appFrame // opened through frame(), for the artifacts
}

// user is a sandbox user, chosen with ?as=.
type user string

const (
	ada    user = "admin" // Ada Admin, site admin of both dev sites
	reggie user = "user"  // Reggie User, a regular user
)

// open opens a new tab as u on the sandbox page at path and waits for it
// to load. Reggie's tabs live in a browser context of their own, so
// nothing Ada's tabs stored (cookies, storage, cache) can reach them.
func (ss *session) open(name string, u user, path string) *tab {
	t := ss.t
	t.Helper()
	rec := newRecorder(ss.s.origin)
	opts := []chromedp.ContextOption{chromedp.WithListener(rec.record)}
	if u != ada {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	tabCtx, closeTab := chromedp.NewContext(ss.s.browser, opts...)
	ctx, cancel := context.WithDeadline(tabCtx, ss.deadline)
	p := &tab{t: t, s: ss.s, name: name, ctx: ctx, tabCtx: tabCtx, rec: rec}
	p.close = func() {
		cancel()
		closeTab()
	}
	t.Cleanup(p.checkRecording)
	ss.mu.Lock()
	ss.tabs = append(ss.tabs, p)
	ss.mu.Unlock()

	// Opening the tab is the first Run on its context: do it without the
	// deadline, which would otherwise stay bound to the tab's life.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	p.navigate(path, u)
	return p
}

// navigate loads the sandbox page at path as u. The load event waits for
// the app's iframes to load as well. path may carry a query of its own
// (?loc=de-DE&tz=…).
func (p *tab) navigate(path string, u user) {
	p.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	target := p.s.base + path + sep + "as=" + string(u)
	if err := chromedp.Do(p.ctx, chromedp.Navigate(target)); err != nil {
		p.t.Fatalf("%s: navigate to %s: %v", p.name, target, err)
	}
	p.loaded()
}

// reload loads the current page again: everything the app shows comes
// fresh from the server.
func (p *tab) reload() {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Reload()); err != nil {
		p.t.Fatalf("%s: reload: %v", p.name, err)
	}
	p.loaded()
}

// loaded notes a new page: frames opened before belong to the old one.
func (p *tab) loaded() {
	p.t.Helper()
	tree, err := chromedp.Call(p.ctx, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		p.t.Fatalf("%s: frame tree: %v", p.name, err)
	}
	p.mainFrame = tree.FrameTree.Frame.ID
	p.frames = nil
}

// allowHTTPError declares that the app's request to path will be answered
// with status, on purpose. Chromium logs every 4xx a page receives as
// "Failed to load resource"; only the ones declared here are not errors.
func (p *tab) allowHTTPError(path string, status int) {
	p.rec.allow(path, status)
}

// waitProblem waits until the tab has recorded a problem whose text
// contains want (a console error, an uncaught exception, or a log error
// not declared with allowHTTPError) and takes it off the record, since the
// caller expected it. It returns the problem's text.
func (p *tab) waitProblem(want string) string {
	p.t.Helper()
	got, err := poll(p.ctx, func(context.Context) (probe[string], error) {
		line, ok := p.rec.take(want)
		return probe[string]{OK: ok, Got: line}, nil
	})
	if err != nil {
		p.t.Fatalf("%s: waiting for a logged problem containing %q: %v", p.name, want, err)
	}
	return got
}

// responses returns the statuses of the responses the tab received for
// path, in order.
func (p *tab) responses(path string) []int {
	return p.rec.statuses(path)
}

// hostCall calls fn in the host page (the sandbox's Jira or Confluence page).
func hostCall[T any](ctx context.Context, p *tab, fn string, args ...any) (T, error) {
	id, err := p.rec.contextOf(p.mainFrame)
	if err != nil {
		var zero T
		return zero, err
	}
	return callIn[T](ctx, id, fn, args...)
}

// frame waits until the app in the host page's iframe with this DOM id has
// loaded and rendered, and returns it.
func (p *tab) frame(id string) *appFrame {
	p.t.Helper()
	frameID := p.frameID(id)
	f := &appFrame{t: p.t, tab: p, id: id, frameID: frameID}
	// The app removes aria-busy from #app once it has rendered (for the
	// secrets view: once the list has loaded).
	f.wait("the app to load", `function() {
		const app = document.getElementById('app');
		return {
			ok: document.readyState === 'complete' && !!app && !app.hasAttribute('aria-busy') && !app.querySelector('.boot'),
			got: {url: location.pathname, readyState: document.readyState, app: app ? app.outerHTML.slice(0, 300) : null},
		};
	}`)
	p.frames = append(p.frames, f)
	return f
}

// frameID asks the browser which frame the iframe element with this id
// holds: DOM.describeNode reports it for frame owners.
func (p *tab) frameID(id string) cdp.FrameID {
	p.t.Helper()
	var frameID cdp.FrameID
	_, err := poll(p.ctx, func(ctx context.Context) (probe[string], error) {
		obj, err := hostCall[*runtime.RemoteObject](ctx, p,
			`function(id) { return document.getElementById(id); }`, id)
		if err != nil || obj.ObjectID == "" {
			return probe[string]{Got: "no element #" + id}, retry(err)
		}
		defer release(ctx, obj)
		n, err := chromedp.Call(ctx, dom.DescribeNode, dom.DescribeNodeParams{ObjectID: obj.ObjectID})
		if err != nil {
			return probe[string]{}, retry(err)
		}
		frameID = n.Node.FrameID
		return probe[string]{OK: frameID != "", Got: string(frameID)}, nil
	})
	if err != nil {
		p.t.Fatalf("%s: finding the frame of iframe #%s: %v", p.name, id, err)
	}
	return frameID
}

// frameHeight is the height of the host page's iframe with this id, as the
// host lays it out (AP.resize sets it).
func (p *tab) frameHeight(id string) float64 {
	p.t.Helper()
	return p.frameBox(id)[1]
}

// frameWidth is the width of the host page's iframe with this id.
func (p *tab) frameWidth(id string) float64 {
	p.t.Helper()
	return p.frameBox(id)[0]
}

func (p *tab) frameBox(id string) [2]float64 {
	p.t.Helper()
	box, err := hostCall[[2]float64](p.ctx, p, `function(id) {
		const r = document.getElementById(id).getBoundingClientRect();
		return [r.width, r.height];
	}`, id)
	if err != nil {
		p.t.Fatalf("%s: size of #%s: %v", p.name, id, err)
	}
	return box
}

// waitFitted waits until the host has sized f's iframe to the app's
// content, as AP.resize asks it to: as high as the app's document, so that
// nothing is cut off and nothing scrolls inside the frame.
func (p *tab) waitFitted(f *appFrame) {
	p.t.Helper()
	got, err := poll(p.ctx, func(ctx context.Context) (probe[[2]float64], error) {
		frame, err := hostCall[float64](ctx, p, `function(id) { return document.getElementById(id).getBoundingClientRect().height; }`, f.id)
		if err != nil {
			return probe[[2]float64]{}, retry(err)
		}
		content, err := frameCall[float64](ctx, f, `function() { return Math.ceil(document.documentElement.getBoundingClientRect().height); }`)
		if err != nil {
			return probe[[2]float64]{}, retry(err)
		}
		return probe[[2]float64]{OK: frame == content, Got: [2]float64{frame, content}}, nil
	})
	if err != nil {
		p.t.Fatalf("%s: waiting for #%s to fit the app: %v (frame and content height: %v)", p.name, f.id, err, got)
	}
}

// mouseAway moves the mouse off the app, so no hover state shows in a
// screenshot.
func (p *tab) mouseAway() {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.MouseEvent(chromedp.MouseMoved, 0, 0)); err != nil {
		p.t.Fatalf("%s: moving the mouse: %v", p.name, err)
	}
}

// setViewport makes the tab's viewport width × height CSS pixels.
func (p *tab) setViewport(width, height int64) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(width, height)); err != nil {
		p.t.Fatalf("%s: viewport %dx%d: %v", p.name, width, height, err)
	}
}

// screenshot returns a PNG of the host page's element with this id, as a
// person sees it (iframe content included).
func (p *tab) screenshot(id string) []byte {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.Screenshot(chromedp.ID(id)))
	if err != nil {
		p.t.Fatalf("%s: screenshot of #%s: %v", p.name, id, err)
	}
	return png
}

// ---- the app in a frame ---------------------------------------------------

// appFrame is the app inside one of the host page's iframes.
type appFrame struct {
	t       *testing.T
	tab     *tab
	id      string      // the iframe's DOM id in the host page
	frameID cdp.FrameID // the browser's id of the frame
}

// frameCall calls fn in the frame's JavaScript context.
func frameCall[T any](ctx context.Context, f *appFrame, fn string, args ...any) (T, error) {
	id, err := f.tab.rec.contextOf(f.frameID)
	if err != nil {
		var zero T
		return zero, err
	}
	return callIn[T](ctx, id, fn, args...)
}

// eval calls fn in the frame once and returns its result.
func eval[T any](f *appFrame, fn string, args ...any) T {
	f.t.Helper()
	v, err := frameCall[T](f.tab.ctx, f, fn, args...)
	if err != nil {
		f.t.Fatalf("%s: %v", f.id, err)
	}
	return v
}

// wait polls fn in the frame until it reports ok. fn returns {ok, got};
// on a timeout, what it got last is in the failure message.
func (f *appFrame) wait(what, fn string, args ...any) {
	f.t.Helper()
	waitFrame[json.RawMessage](f, what, fn, args...)
}

// waitFrame is wait for a caller that wants what fn got once it was ok.
func waitFrame[T any](f *appFrame, what, fn string, args ...any) T {
	f.t.Helper()
	got, err := poll(f.tab.ctx, func(ctx context.Context) (probe[T], error) {
		v, err := frameCall[probe[T]](ctx, f, fn, args...)
		return v, retry(err)
	})
	if err != nil {
		f.t.Fatalf("%s: waiting for %s: %v\nlast seen: %s", f.id, what, err, show(got))
	}
	return got
}

// html is the frame's document as markup, for artifacts.
func (f *appFrame) html(ctx context.Context) (string, error) {
	return frameCall[string](ctx, f, `function() { return document.documentElement.outerHTML; }`)
}

// contains reports whether text appears anywhere in the frame's document,
// form values included.
func (f *appFrame) contains(text string) bool {
	f.t.Helper()
	return eval[bool](f, `function(text) {
		if (document.documentElement.textContent.includes(text)) return true;
		return [...document.querySelectorAll('input, textarea')].some((el) => el.value.includes(text));
	}`, text)
}

// horizontalOverflow reports how wide the frame's content is and how wide
// its viewport: the app must never need a horizontal scrollbar.
func (f *appFrame) horizontalOverflow() (scrollWidth, clientWidth int) {
	f.t.Helper()
	v := eval[[2]int](f, `function() {
		const root = document.documentElement;
		return [root.scrollWidth, root.clientWidth];
	}`)
	return v[0], v[1]
}

// scope is a part of the app a person looks at: the whole app, the add
// form, one secret, or one row of the admin table. Fields are found by
// their label and buttons by their text, within the scope.
type scope struct {
	f    *appFrame
	name string // for messages
	sel  scopeSel
}

// scopeSel is what the JavaScript side (scopeJS) looks for. An empty CSS
// is the whole app.
//
// CSS is never omitted from the JSON: chromedp passes arguments through
// encoding/json/v2, whose omitempty drops an empty object, so a scopeSel
// that encoded as {} would reach the function as undefined. (The same goes
// for an empty string argument, which no caller passes.)
type scopeSel struct {
	CSS      string `json:"css"`
	ID       string `json:"id,omitempty"`       // with CSS: the element whose data-id is this
	Title    string `json:"title,omitempty"`    // with TitleCSS: the element whose title is this
	TitleCSS string `json:"titleCSS,omitempty"` // where an element's title is, inside it
}

// app is the whole app.
func (f *appFrame) app() scope { return scope{f: f, name: "the app"} }

// addForm is the "New secret" form.
func (f *appFrame) addForm() scope {
	return scope{f: f, name: "the add form", sel: scopeSel{CSS: "form.add-form"}}
}

// secret waits for the one secret titled title in the list and returns it.
// The scope follows the secret by its id, so it survives a change of title.
func (f *appFrame) secret(title string) scope {
	f.t.Helper()
	return f.byTitle("secret", title, scopeSel{CSS: "li.secret", Title: title, TitleCSS: "h2.secret-title"})
}

// adminRow waits for the row of the admin page's table for the secret
// titled title.
func (f *appFrame) adminRow(title string) scope {
	f.t.Helper()
	return f.byTitle("admin row", title, scopeSel{CSS: "tr.admin-secret", Title: title, TitleCSS: ".admin-secret-title > span"})
}

func (f *appFrame) byTitle(kind, title string, sel scopeSel) scope {
	f.t.Helper()
	id := waitFrame[string](f, fmt.Sprintf("the %s titled %q", kind, title), scopeJS(`(sel) => {
		const el = scopeOf(sel);
		return {ok: !!el, got: el ? el.dataset.id : listed()};
	}`), sel)
	return scope{
		f:    f,
		name: fmt.Sprintf("%s %q", kind, title),
		sel:  scopeSel{CSS: sel.CSS, ID: id},
	}
}

// id is the secret's id (data-id).
func (s scope) id() string { return s.sel.ID }

// click clicks the button with this text in the scope, with the mouse, once
// it is visible and enabled.
func (s scope) click(text string) {
	s.f.t.Helper()
	n := s.control("button", text)
	if err := chromedp.Do(s.f.tab.ctx, chromedp.MouseClickNode(n)); err != nil {
		s.f.t.Fatalf("%s: click %q: %v", s.name, text, err)
	}
}

// fill types text into the field labelled label, replacing what it held,
// as a person does: click into it, select all, type.
func (s scope) fill(label, text string) {
	s.f.t.Helper()
	n := s.control("field", label)
	ctx := s.f.tab.ctx
	err := chromedp.Do(ctx,
		chromedp.MouseClickNode(n),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			obj, err := cdp.Call(ctx, t, dom.ResolveNode, dom.ResolveNodeParams{NodeID: n.NodeID})
			if err != nil {
				return err
			}
			defer release(ctx, obj.Object)
			_, err = cdp.Call(ctx, t, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
				FunctionDeclaration: `function() { this.select(); }`,
				ObjectID:            obj.Object.ObjectID,
			})
			if err != nil {
				return err
			}
			// Input.insertText types the whole string at once, newlines
			// included, with the input events typing causes but no key
			// events (the app reacts to input, and to no key but Escape).
			_, err = cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
			return err
		}),
	)
	if err != nil {
		s.f.t.Fatalf("%s: fill %q: %v", s.name, label, err)
	}
	got := s.value(label)
	if got != text {
		s.f.t.Fatalf("%s: field %q holds %q after typing %q", s.name, label, got, text)
	}
}

// value is the current value of the field labelled label.
func (s scope) value(label string) string {
	s.f.t.Helper()
	return eval[string](s.f, scopeJS(`(sel, label) => {
		const [el] = controlsIn(scopeOf(sel), 'field', label);
		return el ? el.value : null;
	}`), s.sel, label)
}

// control waits until exactly one visible, enabled field (by label) or
// button (by text) of this name is in the scope and the layout around it
// has settled, and returns its node.
//
// Settled means that the host has fitted the iframe to the app's content
// and the control has not moved since the last look. Right after a change
// the app is taller than its frame until AP.resize takes effect; a click
// aimed then (after scrolling the frame's own document to the control)
// lands where the control no longer is once the frame has grown. A person
// would not click in that instant either.
func (s scope) control(kind, name string) *chromedp.Node {
	s.f.t.Helper()
	type seen struct {
		Count   int       `json:"count"`
		Enabled bool      `json:"enabled"`
		Rect    []float64 `json:"rect"`
		Content float64   `json:"content"` // height of the app's document
		There   any       `json:"there"`   // what is there instead, for messages
	}
	var (
		last   []float64
		nodeID cdp.NodeID
	)
	got, err := poll(s.f.tab.ctx, func(ctx context.Context) (probe[any], error) {
		v, err := frameCall[seen](ctx, s.f, scopeJS(`(sel, kind, name) => {
			const root = scopeOf(sel);
			const found = root ? controlsIn(root, kind, name) : [];
			if (found.length > 1) throw new Error(found.length + ' visible ' + kind + 's named ' + JSON.stringify(name));
			const el = found[0];
			const r = el && el.getBoundingClientRect();
			return {
				count: found.length,
				enabled: !!el && !el.disabled,
				rect: r ? [r.x, r.y, r.width, r.height] : null,
				content: Math.ceil(document.documentElement.getBoundingClientRect().height),
				there: el ? null : !root ? 'the scope is not on the page; ' + listed() : {
					buttons: [...root.querySelectorAll('button')].filter((b) => b.checkVisibility()).map((b) => norm(b.textContent) + (b.disabled ? ' (disabled)' : '')),
					fields: [...root.querySelectorAll('label')].filter((l) => l.control && l.control.checkVisibility()).map((l) => norm(l.textContent)),
				},
			};
		}`), s.sel, kind, name)
		switch {
		case err != nil:
			return probe[any]{}, retry(err) // an exception (an ambiguous name) stops
		case v.Count != 1 || !v.Enabled:
			return probe[any]{Got: v.There}, nil
		}
		frame, err := hostCall[float64](ctx, s.f.tab, `function(id) { return document.getElementById(id).getBoundingClientRect().height; }`, s.f.id)
		if err != nil {
			return probe[any]{}, retry(err)
		}
		stable := slices.Equal(v.Rect, last)
		last = v.Rect
		if !stable || frame != v.Content {
			return probe[any]{Got: fmt.Sprintf("layout still moving: control at %v, frame %vpx high for %vpx of content", v.Rect, frame, v.Content)}, nil
		}

		obj, err := frameCall[*runtime.RemoteObject](ctx, s.f, scopeJS(`(sel, kind, name) => controlsIn(scopeOf(sel), kind, name)[0]`), s.sel, kind, name)
		if err != nil || obj.ObjectID == "" {
			return probe[any]{}, retry(err)
		}
		defer release(ctx, obj)
		res, err := chromedp.Call(ctx, dom.RequestNode, dom.RequestNodeParams{ObjectID: obj.ObjectID})
		if err != nil {
			return probe[any]{}, retry(err)
		}
		nodeID = res.NodeID
		return probe[any]{OK: true}, nil
	})
	if err != nil {
		s.f.t.Fatalf("%s: the %s %q: %v\nthere instead: %s", s.name, kind, name, err, show(got))
	}
	return &chromedp.Node{Node: &cdp.Node{NodeID: nodeID}}
}

// state is the secret's data-state: locked, unlocked, editing,
// changing-password or confirm-delete.
func (s scope) state() string {
	s.f.t.Helper()
	return eval[string](s.f, scopeJS(`(sel) => {
		const el = scopeOf(sel);
		return el ? el.dataset.state || '' : '(gone)';
	}`), s.sel)
}

// waitState waits until the secret's data-state is want and it is not
// busy with a request.
func (s scope) waitState(want string) {
	s.f.t.Helper()
	s.f.wait(fmt.Sprintf("%s to be %s", s.name, want), scopeJS(`(sel, want) => {
		const el = scopeOf(sel);
		if (!el) return {ok: false, got: '(gone)'};
		return {ok: el.dataset.state === want && !el.hasAttribute('aria-busy'), got: el.dataset.state + ': ' + norm(el.textContent)};
	}`), s.sel, want)
}

// text is the textContent of the first element matching css in the scope,
// exactly as the DOM holds it; ok is false when there is none.
func (s scope) text(css string) (text string, ok bool) {
	s.f.t.Helper()
	v := eval[*string](s.f, scopeJS(`(sel, css) => {
		const root = scopeOf(sel);
		const el = root && root.querySelector(css);
		return el ? el.textContent : null;
	}`), s.sel, css)
	if v == nil {
		return "", false
	}
	return *v, true
}

// waitText waits until the element matching css in the scope shows text
// containing want (whitespace collapsed), and returns all of it.
func (s scope) waitText(css, want string) string {
	s.f.t.Helper()
	return waitFrame[string](s.f, fmt.Sprintf("%s: %s to show %q", s.name, css, want), scopeJS(`(sel, css, want) => {
		const root = scopeOf(sel);
		const el = root && root.querySelector(css);
		const text = el ? norm(el.textContent) : '';
		return {ok: text.includes(want), got: text};
	}`), s.sel, css, want)
}

// waitGone waits until the scope's element is no longer on the page.
func (s scope) waitGone() {
	s.f.t.Helper()
	s.f.wait(s.name+" to go away", scopeJS(`(sel) => {
		const el = scopeOf(sel);
		return {ok: !el, got: el ? norm(el.textContent) : null};
	}`), s.sel)
}

// titles lists the titles of the secrets the frame shows.
func (f *appFrame) titles() []string {
	f.t.Helper()
	return eval[[]string](f, `function() {
		return [...document.querySelectorAll('li.secret h2.secret-title')].map((h) => h.textContent);
	}`)
}

// scopeJS wraps fn, an arrow function, into a function declaration for
// callFunctionOn with the helpers every scope function uses.
func scopeJS(fn string) string {
	return `function(...args) {
	const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
	// scopeOf returns the element sel names, or null while there is none.
	const scopeOf = (sel) => {
		if (!sel.css) return document.getElementById('app');
		let els = [...document.querySelectorAll(sel.css)];
		if (sel.id) els = els.filter((el) => el.dataset.id === sel.id);
		if (sel.titleCSS) els = els.filter((el) => norm(el.querySelector(sel.titleCSS)?.textContent) === sel.title);
		if (els.length > 1) throw new Error(els.length + ' elements match ' + JSON.stringify(sel));
		return els[0] || null;
	};
	// controlsIn returns the visible fields labelled name, or buttons
	// named name, under root.
	const controlsIn = (root, kind, name) => (kind === 'field'
		? [...root.querySelectorAll('label')].filter((l) => norm(l.textContent) === name).map((l) => l.control)
		: [...root.querySelectorAll('button')].filter((b) => norm(b.textContent) === name)
	).filter((el) => el && el.checkVisibility());
	// listed says which secrets are there, for failure messages.
	const listed = () => 'secrets listed: ' + JSON.stringify([...document.querySelectorAll('li.secret h2.secret-title, tr.admin-secret .admin-secret-title > span')].map((h) => h.textContent));
	return (` + fn + `)(...args);
}`
}

// ---- calling JavaScript and polling -----------------------------------------

// probe is what a polled function returns: whether the condition holds,
// and what it saw (for the failure message when it never does).
type probe[T any] struct {
	OK  bool `json:"ok"`
	Got T    `json:"got"`
}

// errRetry tells poll that the answer is "not yet" rather than a failure.
var errRetry = errors.New("not yet")

// retry marks err as worth another try unless it is an exception thrown by
// the test's own JavaScript, which is a bug that waiting cannot fix. The
// browser's errors pass: a frame's JavaScript context can vanish between
// looking it up and calling into it, while its document is replaced.
func retry(err error) error {
	var ex *chromedp.ExceptionError
	if err == nil || errors.As(err, &ex) || errors.Is(err, errRetry) {
		return err
	}
	return fmt.Errorf("%w: %w", errRetry, err)
}

// poll calls check every pollInterval until it reports ok, fails with an
// error other than errRetry, or stepTimeout passes. It returns the last
// thing check saw.
func poll[T any](ctx context.Context, check func(context.Context) (probe[T], error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var (
		last      T
		lastRetry error
	)
	for {
		p, err := check(ctx)
		switch {
		case err == nil:
			last, lastRetry = p.Got, nil
			if p.OK {
				return last, nil
			}
		case errors.Is(err, errRetry):
			lastRetry = err
		case ctx.Err() == nil:
			return last, err
		}
		select {
		case <-ctx.Done():
			err := fmt.Errorf("gave up after %v: %w", stepTimeout, ctx.Err())
			if lastRetry != nil {
				err = fmt.Errorf("%w (last try: %v)", err, lastRetry)
			}
			return last, err
		case <-tick.C:
		}
	}
}

// callIn calls the function declaration fn with args in the execution
// context id and returns its result, decoded as chromedp.Evaluate does.
func callIn[T any](ctx context.Context, id runtime.ExecutionContextID, fn string, args ...any) (T, error) {
	return chromedp.Run(ctx, chromedp.CallFunctionOn[T](fn, func(p *runtime.CallFunctionOnParams) {
		p.ExecutionContextID = id
	}, args...))
}

// release frees a remote object the browser keeps for us.
func release(ctx context.Context, obj *runtime.RemoteObject) {
	if obj != nil && obj.ObjectID != "" {
		_, _ = chromedp.Call(ctx, runtime.ReleaseObject, runtime.ReleaseObjectParams{ObjectID: obj.ObjectID})
	}
}

// show formats what a probe saw for a failure message.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// ---- what the tab logs and requests -----------------------------------------

// recorder keeps what a tab's page and frames did, from the tab's first
// event on: console errors, uncaught exceptions, browser log errors (CSP
// violations and failed requests among them), every request and response,
// and the JavaScript context of each frame. record runs in chromedp's event
// loop, so it only appends under a lock.
//
// The app's iframes are same-origin with the host page, so Chromium runs
// them in the tab's own process and target: the tab's listener sees their
// events too. checkRecording makes sure that stays true.
type recorder struct {
	origin *url.URL

	mu         sync.Mutex
	problems   []string // console errors and uncaught exceptions
	logErrors  []*cdplog.Entry
	requests   []string
	responses  []response
	allowed    []allowedError
	contexts   map[cdp.FrameID]jsContext // the default world of each frame's document
	transcript []string                  // everything, for the artifacts
}

type response struct {
	url    string
	status int
}

// jsContext is a JavaScript execution context: the id calls use, and the
// unique id its destruction is reported by.
type jsContext struct {
	id     runtime.ExecutionContextID
	unique string
}

type allowedError struct {
	path   string
	status int
}

func newRecorder(origin *url.URL) *recorder {
	return &recorder{
		origin:   origin,
		contexts: make(map[cdp.FrameID]jsContext),
	}
}

func (r *recorder) record(ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		line := "console." + string(ev.Type) + ": " + consoleText(ev.Args)
		r.transcript = append(r.transcript, line)
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			r.problems = append(r.problems, line)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		line := fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, d.Text)
		if d.Exception != nil && d.Exception.Description != "" {
			line += " " + d.Exception.Description
		}
		r.transcript = append(r.transcript, line)
		r.problems = append(r.problems, line)
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		r.transcript = append(r.transcript, fmt.Sprintf("log %s/%s: %s %s", e.Source, e.Level, e.Text, e.URL))
		if e.Level == cdplog.EntryLevelError {
			r.logErrors = append(r.logErrors, e)
		}
	case *network.EventRequestWillBeSent:
		r.transcript = append(r.transcript, "request "+ev.Request.Method+" "+ev.Request.URL)
		r.requests = append(r.requests, ev.Request.URL)
	case *network.EventResponseReceived:
		r.transcript = append(r.transcript, fmt.Sprintf("response %d %s", ev.Response.Status, ev.Response.URL))
		r.responses = append(r.responses, response{url: ev.Response.URL, status: int(ev.Response.Status)})
	case *runtime.EventExecutionContextCreated:
		var aux struct {
			FrameID   cdp.FrameID `json:"frameId"`
			IsDefault bool        `json:"isDefault"`
		}
		if json.Unmarshal(ev.Context.AuxData, &aux) == nil && aux.IsDefault && aux.FrameID != "" {
			r.contexts[aux.FrameID] = jsContext{id: ev.Context.ID, unique: ev.Context.UniqueID}
		}
	case *runtime.EventExecutionContextDestroyed:
		for frame, c := range r.contexts {
			if c.unique == ev.ExecutionContextUniqueID {
				delete(r.contexts, frame)
			}
		}
	case *runtime.EventExecutionContextsCleared:
		clear(r.contexts)
	}
}

// consoleText formats console arguments roughly as DevTools shows them.
func consoleText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Type == runtime.RemoteObjectTypeString:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				parts = append(parts, s)
				continue
			}
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
			continue
		}
		parts = append(parts, a.Description)
	}
	return strings.Join(parts, " ")
}

// contextOf returns the execution context of the frame's current document.
func (r *recorder) contextOf(frame cdp.FrameID) (runtime.ExecutionContextID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.contexts[frame]
	if !ok {
		return 0, fmt.Errorf("no JavaScript context for frame %s: %w", frame, errRetry)
	}
	return c.id, nil
}

func (r *recorder) allow(path string, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.allowed = append(r.allowed, allowedError{path: path, status: status})
}

func (r *recorder) statuses(path string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, res := range r.responses {
		if u, err := url.Parse(res.url); err == nil && u.Path == path {
			out = append(out, res.status)
		}
	}
	return out
}

// take removes and returns the first problem (see waitProblem) whose text
// contains want.
func (r *recorder) take(want string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, line := range r.problems {
		if strings.Contains(line, want) {
			r.problems = slices.Delete(r.problems, i, i+1)
			return line, true
		}
	}
	for i, e := range r.logErrors {
		if !r.expected(e) && strings.Contains(e.Text, want) {
			r.logErrors = slices.Delete(r.logErrors, i, i+1)
			return e.Text, true
		}
	}
	return "", false
}

// failedStatus reads the status from Chromium's "Failed to load resource:
// the server responded with a status of 403 (Forbidden)".
var failedStatus = regexp.MustCompile(`status of (\d{3})\b`)

// expected reports whether a log error is a failed request the test
// declared with allowHTTPError: same path, same status.
func (r *recorder) expected(e *cdplog.Entry) bool {
	if e.Source != cdplog.EntrySourceNetwork {
		return false
	}
	u, err := url.Parse(e.URL)
	if err != nil || u.Host != r.origin.Host {
		return false
	}
	m := failedStatus.FindStringSubmatch(e.Text)
	if m == nil {
		return false
	}
	status, _ := strconv.Atoi(m[1])
	for _, a := range r.allowed {
		if a.path == u.Path && a.status == status {
			return true
		}
	}
	return false
}

// foreign reports whether a request left the app's own origin for
// anything but Atlassian's CDN. data: and blob: URLs never leave the page.
func (r *recorder) foreign(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return true
	}
	switch u.Scheme {
	case "data", "blob":
		return false
	case "http", "https":
		return u.Host != r.origin.Host && !(u.Scheme == "https" && u.Host == cdnHost)
	}
	return true
}

// checkRecording fails the test for every console error, uncaught
// exception and unexpected log error the tab recorded, and for every
// request to a host other than the app's own or Atlassian's CDN.
func (p *tab) checkRecording() {
	r := p.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, line := range r.problems {
		p.t.Errorf("%s: %s", p.name, line)
	}
	for _, e := range r.logErrors {
		if !r.expected(e) {
			p.t.Errorf("%s: browser logged an error (%s): %s %s", p.name, e.Source, e.Text, e.URL)
		}
	}
	assets := 0
	for _, u := range r.requests {
		if r.foreign(u) {
			p.t.Errorf("%s: request to a foreign host: %s", p.name, u)
		}
		if strings.Contains(u, "/static/") {
			assets++
		}
	}
	// The listener must see the frames' requests, not just the host
	// page's; the app's assets come only from inside the frames.
	if len(p.frames) > 0 && assets == 0 {
		p.t.Errorf("%s: no request for the app's assets was recorded: the tab's listener does not see its frames", p.name)
	}
}

// ---- artifacts --------------------------------------------------------------

// saveArtifactsOnFailure saves, for each tab of a failed subtest, a
// full-page screenshot, the host page's HTML, each app frame's HTML and the
// recording, in test-artifacts/<TestName>/. The caller holds ss.mu.
func (ss *session) saveArtifactsOnFailure() {
	t := ss.t
	if !t.Failed() {
		return
	}
	dir := filepath.Join(ss.s.root, "test-artifacts", filepath.FromSlash(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("artifacts: %v", err)
		return
	}
	for _, p := range ss.tabs {
		// The subtest's deadline may be what failed it: use the tab
		// without it.
		ctx, cancel := context.WithTimeout(p.tabCtx, 10*time.Second)
		save := func(name string, data []byte, err error) {
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, p.name+"-"+name), data, 0o644)
			}
			if err != nil {
				t.Logf("artifacts: %s-%s: %v", p.name, name, err)
			}
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		save("page.png", png, err)
		html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		save("host.html", []byte(html), err)
		for _, f := range p.frames {
			html, err := f.html(ctx)
			save(f.id+".html", []byte(html), err)
		}
		p.rec.mu.Lock()
		transcript := strings.Join(p.rec.transcript, "\n") + "\n"
		p.rec.mu.Unlock()
		save("events.txt", []byte(transcript), nil)
		cancel()
	}
	t.Logf("artifacts saved in %s", dir)
}

// saveScreenshot writes a README screenshot to test-artifacts/screenshots/
// and, with -update-screenshots, to static/screenshots/.
func (s *suite) saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	dirs := []string{filepath.Join(s.root, "test-artifacts", "screenshots")}
	if *updateScreenshots {
		dirs = append(dirs, filepath.Join(s.root, "static", "screenshots"))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newSuite starts secretsd with its sandbox and a browser for one test.
func newSuite(t *testing.T) *suite {
	t.Helper()
	base := startServer(t)
	origin, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return &suite{base: base, origin: origin, browser: startBrowser(t), root: repoRoot(t)}
}
