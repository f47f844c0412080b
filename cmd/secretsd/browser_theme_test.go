package main

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserTheme checks the app's colours the way an accessibility
// audit does, in the sandbox's light and dark themes: every visible piece
// of text in the app's frame against the background it really sits on
// (WCAG 1.4.3: 4.5:1, large text 3:1), and the borders of form controls,
// the checkbox and the keyboard focus ring against theirs (WCAG 1.4.11:
// 3:1), and so are its icons. It covers the issue panel (locked, unlocked, editing, with an error
// message), the macro and every tab of the admin page in Connect mode, and
// the panel and the admin page in Forge mode. A failure lists every offending element with its
// colours and ratio.
//
// Each run first proves it runs in the theme it names: the frame's <html>
// carries the host's colour mode, and the page behind the app is dark in
// dark and light in light, so the dark run cannot pass by staying light.
func TestBrowserTheme(t *testing.T) {
	s := newSuite(t)

	for _, theme := range []string{"light", "dark"} {
		t.Run(theme, func(t *testing.T) {
			t.Run("connect_panel", func(t *testing.T) {
				testThemePanel(t, s, theme, "/dev/jira/browse/DEV-1", unlockPath)
			})
			t.Run("connect_macro", func(t *testing.T) { testThemeMacro(t, s, theme) })
			t.Run("connect_admin", func(t *testing.T) { testThemeAdmin(t, s, theme, "/dev/jira/admin") })
			t.Run("forge_panel", func(t *testing.T) {
				testThemePanel(t, s, theme, "/dev/forge/jira/browse/DEV-1", forgeUnlockPath)
			})
			t.Run("forge_admin", func(t *testing.T) { testThemeAdmin(t, s, theme, "/dev/forge/jira/admin") })
		})
	}
	t.Run("toggle_changes_open_frames", func(t *testing.T) { testThemeToggle(t, s, "/dev/jira/browse/DEV-2") })
	t.Run("toggle_changes_open_forge_frames", func(t *testing.T) { testThemeToggle(t, s, "/dev/forge/jira/browse/DEV-2") })
	t.Run("frame_without_theming_stays_light", func(t *testing.T) { testThemeUnthemed(t, s) })
}

// openThemed opens the sandbox page at path as u in theme.
func (ss *session) openThemed(name string, u user, path, theme string) *tab {
	ss.t.Helper()
	p := ss.open(name, u, path)
	if theme != "light" {
		p.navigateQuery(path, u, "theme="+theme)
	}
	return p
}

// navigateQuery is navigate with more query parameters than ?as=.
func (p *tab) navigateQuery(path string, u user, query string) {
	p.t.Helper()
	target := p.s.base + path + "?as=" + string(u) + "&" + query
	if err := chromedp.Do(p.ctx, chromedp.Navigate(target)); err != nil {
		p.t.Fatalf("%s: navigate to %s: %v", p.name, target, err)
	}
	p.loaded()
}

// testThemePanel checks the panel's states: a locked list, a wrong
// password's error message, an unlocked secret and its edit form.
func testThemePanel(t *testing.T, s *suite, theme, page string, unlockAt func(scope) string) {
	ss := s.begin(t)
	p := ss.openThemed("ada", ada, page, theme)
	f := p.frame("secrets-panel")
	title := "Theme check (" + theme + ")"
	const password = "Harbour-violet-27"
	sec := addSecret(f, title, password, "user: deploy\npassword: Theme-Check-Content-1")
	f.secret(title).waitState("locked")
	checkContrast(p, f, theme, "locked list")

	p.allowHTTPError(unlockAt(sec), http.StatusForbidden)
	unlock(sec, "not the password")
	sec.waitText(".message", "Wrong password")
	checkContrast(p, f, theme, "wrong-password message")

	unlock(sec, password)
	sec.waitState("unlocked")
	checkContrast(p, f, theme, "unlocked secret")

	sec.click("Edit")
	sec.waitState("editing")
	checkContrast(p, f, theme, "edit form")
	checkFocus(p, f, theme, "edit form")
}

// testThemeMacro checks a Confluence macro with a secret, and its add form.
func testThemeMacro(t *testing.T, s *suite, theme string) {
	ss := s.begin(t)
	p := ss.openThemed("ada", ada, "/dev/confluence/wiki/spaces/DEV/pages/123", theme)
	f := p.frame("secrets-macro-a")
	title := "Macro theme check (" + theme + ")"
	addSecret(f, title, "Copper-meadow-63", "token: Theme-Macro-Content")
	f.secret(title).waitState("locked")
	checkContrast(p, f, theme, "macro")

	f.app().click("Add secret")
	f.addForm()
	checkContrast(p, f, theme, "macro add form")
	checkFocus(p, f, theme, "macro add form")
}

// testThemeAdmin checks every tab of the admin page.
func testThemeAdmin(t *testing.T, s *suite, theme, page string) {
	ss := s.begin(t)
	p := ss.openThemed("ada", ada, page, theme)
	f := p.frame("secrets-admin")
	labels := eval[[]string](f, `function() { return [...document.querySelectorAll('.admin-tab')].map((b) => b.textContent); }`)
	if len(labels) < 3 {
		t.Fatalf("the admin page has tabs %q, want Secrets, Policy and Audit log", labels)
	}
	for i, label := range labels {
		eval[bool](f, `function(i) { document.querySelectorAll('.admin-tab')[i].click(); return true; }`, i)
		f.wait("the "+label+" tab to show", `function(i) {
			const tab = document.querySelectorAll('.admin-tab')[i];
			const panel = document.getElementById(tab.getAttribute('aria-controls'));
			return {ok: tab.getAttribute('aria-selected') === 'true' && !!panel && !panel.hidden && !panel.querySelector('[aria-busy="true"], .loading'),
				got: panel ? panel.outerHTML.slice(0, 300) : null};
		}`, i)
		checkContrast(p, f, theme, "admin tab "+label)
		if i == 1 {
			checkFocus(p, f, theme, "admin tab "+label)
		}
	}
}

// testThemeToggle flips the theme with the sandbox's toggle: the open
// frames follow at once, without a reload, and the address keeps it.
func testThemeToggle(t *testing.T, s *suite, page string) {
	ss := s.begin(t)
	p := ss.open("ada", ada, page)
	f := p.frame("secrets-panel")
	mode := func(want string) {
		t.Helper()
		f.wait("the frame to be "+want, `function(want) {
			return {ok: document.documentElement.dataset.colorMode === want, got: document.documentElement.dataset.colorMode || null};
		}`, want)
	}
	mode("light")
	if _, err := hostCall[bool](p.ctx, p, `function() { document.getElementById('sandbox-theme-toggle').click(); return true; }`); err != nil {
		t.Fatal(err)
	}
	mode("dark")
	checkContrast(p, f, "dark", "after the toggle")
	href, err := hostCall[string](p.ctx, p, `function() { return location.href; }`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(href, "theme=dark") {
		t.Errorf("after the toggle the address is %s, want it to keep theme=dark", href)
	}
	if _, err := hostCall[bool](p.ctx, p, `function() { document.getElementById('sandbox-theme-toggle').click(); return true; }`); err != nil {
		t.Fatal(err)
	}
	mode("light")
	checkContrast(p, f, "light", "after toggling back")
}

// testThemeUnthemed opens a dark page whose app frame never asks for
// theming (its all.js comes without AP.theming, like an old one): as on a
// real site, the frame keeps the app's light look, whole and readable.
func testThemeUnthemed(t *testing.T, s *suite) {
	ss := s.begin(t)
	p := ss.open("ada", ada, "/dev/jira/browse/DEV-2")
	// Runs in every frame before its own scripts: all.js's window.AP
	// loses theming on its way in.
	_, err := chromedp.Call(p.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		let ap;
		Object.defineProperty(window, 'AP', {configurable: true, get: () => ap, set: (v) => { if (v) delete v.theming; ap = v; }});
	`})
	if err != nil {
		t.Fatal(err)
	}
	p.navigateQuery("/dev/jira/browse/DEV-2", ada, "theme=dark")
	f := p.frame("secrets-panel")
	if got := eval[bool](f, `function() { return !!(window.AP && window.AP.theming); }`); got {
		t.Fatal("the frame's AP still has theming; the check would prove nothing")
	}
	checkContrast(p, f, "unthemed", "a frame that never asked for theming")
}

// contrastJS holds the colour arithmetic of WCAG 2: parsing computed
// colours, compositing translucent layers, relative luminance and the
// contrast ratio, and the background an element really sits on.
const contrastJS = `
const parse = (c) => {
	const m = /rgba?\(([^)]*)\)/.exec(c || '');
	if (!m) return null;
	const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
	return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const over = (top, bottom) => {
	const a = top[3] + bottom[3] * (1 - top[3]);
	if (a === 0) return [0, 0, 0, 0];
	return [0, 1, 2].map((i) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a).concat([a]);
};
const lum = (c) => {
	const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
	return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
};
const ratio = (a, b) => {
	const x = lum(a), y = lum(b);
	return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
};
// effectiveBg composites the backgrounds of el and its ancestors, down to
// the first opaque one or, when there is none, behind (what shows through
// the frame).
const effectiveBg = (el, behind) => {
	const layers = [];
	for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
		const c = parse(getComputedStyle(e).backgroundColor);
		if (c && c[3] > 0) {
			layers.push(c);
			if (c[3] >= 1) break;
		}
	}
	let bg = behind;
	for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
	return bg;
};
// opacity is the product of the opacities of el and its ancestors.
const opacity = (el) => {
	let o = 1;
	for (let e = el; e && e.nodeType === 1; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
	return o;
};
const css = (c) => 'rgb(' + c.slice(0, 3).map((v) => Math.round(v)).join(',') + ')';
const describe = (el) => {
	let s = el.tagName.toLowerCase();
	if (el.id) s += '#' + el.id;
	if (el.classList.length) s += '.' + [...el.classList].join('.');
	const text = (el.value || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
	const parent = el.parentElement && el.parentElement.closest('[class]');
	return (parent ? parent.tagName.toLowerCase() + '.' + [...parent.classList].join('.') + ' > ' : '') + s + (text ? ' "' + text + '"' : '');
};
const visible = (el) => {
	const cs = getComputedStyle(el);
	if (cs.visibility !== 'visible' || cs.display === 'none') return false;
	const r = el.getBoundingClientRect();
	return r.width > 1 && r.height > 1;
};
// disabled controls are exempt from WCAG's contrast minimums.
const disabled = (el) => !!el.closest(':disabled, [aria-disabled="true"]');
`

// contrastReport is what the check found in a frame.
type contrastReport struct {
	Mode     string     `json:"mode"`     // the frame's data-color-mode
	PageBg   [4]float64 `json:"pageBg"`   // the background behind #app
	PageLum  float64    `json:"pageLum"`  // its relative luminance
	Checked  int        `json:"checked"`  // elements checked
	Failures []string   `json:"failures"` // one line per offending element
}

// hostBackground is the colour the host page shows behind the frame with
// this id, which is what shows through the frame's transparent body.
func hostBackground(p *tab, id string) [4]float64 {
	p.t.Helper()
	bg, err := hostCall[[4]float64](p.ctx, p, `function(id) {`+contrastJS+`
		const f = document.getElementById(id);
		const bg = effectiveBg(f, [255, 255, 255, 1]);
		// A frame whose colour scheme differs from the page's gets an
		// opaque canvas of its own scheme (light: white).
		try {
			const inner = getComputedStyle(f.contentDocument.documentElement).colorScheme;
			const outer = getComputedStyle(f).colorScheme;
			if (!inner.includes(outer.split(' ')[0])) return inner.includes('dark') ? [18, 18, 18, 1] : [255, 255, 255, 1];
		} catch (e) {}
		return bg;
	}`, id)
	if err != nil {
		p.t.Fatalf("%s: the host's background behind #%s: %v", p.name, id, err)
	}
	return bg
}

// checkContrast checks every visible element of the app in f, in what it
// shows now (what), and fails with the list of offenders. It also makes
// sure the frame is in theme.
func checkContrast(p *tab, f *appFrame, theme, what string) {
	t := p.t
	t.Helper()
	p.waitFitted(f)
	p.mouseAway()
	// Colours mid-transition (a toggle, a hover ending) are not the ones
	// the theme shows.
	f.wait("transitions to end", `function() {
		const running = document.getAnimations().length;
		return {ok: running === 0, got: running};
	}`)
	behind := hostBackground(p, f.id)
	r := eval[contrastReport](f, `function(behind) {`+contrastJS+`
		const failures = [];
		let checked = 0;
		const app = document.getElementById('app');
		const pageBg = effectiveBg(app, behind);
		for (const el of app.querySelectorAll('*')) {
			if (!visible(el) || disabled(el)) continue;
			const cs = getComputedStyle(el);
			const tag = el.tagName;
			const field = tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA';
			const type = (el.getAttribute('type') || '').toLowerCase();
			const box = field && type !== 'checkbox' && type !== 'radio';
			// Text: the element's own text nodes, or a field's value.
			const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '');
			const hasText = box ? el.value !== '' : own;
			const bg = effectiveBg(el, behind);
			if (hasText) {
				checked++;
				const fg0 = parse(cs.color);
				const fg = over([fg0[0], fg0[1], fg0[2], fg0[3] * opacity(el)], bg);
				const size = parseFloat(cs.fontSize);
				const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
				const need = large ? 3 : 4.5;
				const got = ratio(fg, bg);
				if (got < need) failures.push('text ' + describe(el) + ': ' + css(fg) + ' on ' + css(bg) + ' is ' + got.toFixed(2) + ':1, want ' + need + ':1');
			}
			const around = effectiveBg(el.parentElement, behind);
			if (box) {
				checked++;
				const w = parseFloat(cs.borderBottomWidth);
				const c = parse(cs.borderBottomColor);
				if (!(w > 0) || !c) {
					failures.push('border ' + describe(el) + ': none');
				} else {
					const b = over([c[0], c[1], c[2], c[3] * opacity(el)], around);
					const got = ratio(b, around);
					if (got < 3) failures.push('border ' + describe(el) + ': ' + css(b) + ' on ' + css(around) + ' is ' + got.toFixed(2) + ':1, want 3:1');
				}
			}
			// Icons are graphics that carry meaning (locked, unlocked):
			// 3:1 against what they sit on.
			if (tag.toLowerCase() === 'svg') {
				checked++;
				const shape = el.querySelector('path, rect, circle') || el;
				const c = parse(getComputedStyle(shape).fill);
				if (c) {
					const got = ratio(over([c[0], c[1], c[2], c[3] * opacity(el)], bg), bg);
					if (got < 3) failures.push('icon ' + describe(el.parentElement) + ': ' + css(c) + ' on ' + css(bg) + ' is ' + got.toFixed(2) + ':1, want 3:1');
				}
			}
			if (type === 'checkbox') {
				checked++;
				const c = parse(cs.accentColor);
				if (!c) {
					failures.push('checkbox ' + describe(el) + ': no accent colour, the browser default may not suit the theme');
				} else {
					const got = ratio(over(c, around), around);
					if (got < 3) failures.push('checkbox ' + describe(el) + ': ' + css(c) + ' on ' + css(around) + ' is ' + got.toFixed(2) + ':1, want 3:1');
				}
			}
		}
		return {mode: document.documentElement.dataset.colorMode || '', pageBg, pageLum: lum(pageBg), checked, failures};
	}`, behind)
	wantMode := theme
	if theme == "unthemed" {
		wantMode, theme = "", "light"
	}
	assertTheme(t, f, theme, what, wantMode, r.Mode, r.PageBg, r.PageLum)
	// What the browser really painted, not what the styles say: the
	// frame's top-left corner (the body's padding, so the page behind the
	// app) must be as dark or as light as the theme.
	if l := cornerLuminance(p, f.id); (theme == "dark") != (l < 0.05) || (theme == "light" && l < 0.8) {
		t.Errorf("%s, %s (%s): the painted background has luminance %.2f", f.id, what, theme, l)
	}
	t.Logf("%s, %s (%s): %d elements checked on rgb%v", f.id, what, theme, r.Checked, r.PageBg[:3])
	// The emptiest screen, a panel without secrets, has three: the Add
	// button and the two lines saying there is nothing yet.
	if r.Checked < 3 {
		t.Errorf("%s, %s (%s): only %d elements checked; the check is not seeing the app", f.id, what, theme, r.Checked)
	}
	if len(r.Failures) > 0 {
		t.Errorf("%s, %s (%s): %d elements below the WCAG contrast minimum:\n\t%s", f.id, what, theme,
			len(r.Failures), strings.Join(r.Failures, "\n\t"))
	}
}

// assertTheme fails unless the frame shows theme: its colour mode, and a
// page background as dark (or light) as the theme says.
func assertTheme(t *testing.T, f *appFrame, theme, what, wantMode, mode string, bg [4]float64, l float64) {
	t.Helper()
	if mode != wantMode {
		t.Errorf("%s, %s: the frame's data-color-mode is %q, want %q", f.id, what, mode, wantMode)
	}
	switch {
	case theme == "dark" && l > 0.05:
		t.Errorf("%s, %s: the background behind the app is rgb%v (luminance %.2f), not dark", f.id, what, bg[:3], l)
	case theme == "light" && l < 0.8:
		t.Errorf("%s, %s: the background behind the app is rgb%v (luminance %.2f), not light", f.id, what, bg[:3], l)
	}
}

// cornerLuminance is the relative luminance of the top-left pixel of a
// screenshot of the host page's element with this id.
func cornerLuminance(p *tab, id string) float64 {
	p.t.Helper()
	img, err := png.Decode(bytes.NewReader(p.screenshot(id)))
	if err != nil {
		p.t.Fatalf("%s: screenshot of #%s: %v", p.name, id, err)
	}
	b := img.Bounds()
	r, g, bl, _ := img.At(b.Min.X+1, b.Min.Y+1).RGBA()
	lin := func(v uint32) float64 {
		c := float64(v) / 0xffff
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(bl)
}

// focusReport is one element the keyboard reached, and its focus ring.
type focusReport struct {
	In      bool   `json:"in"`      // the focus is inside the app
	Element string `json:"element"` // which element
	Kind    string `json:"kind"`    // "input" or "button" or other
	Problem string `json:"problem"` // why its ring fails, or ""
}

// checkFocus moves through the app with the Tab key, as a keyboard user
// does, and checks that each control it reaches shows a focus indicator
// (outline, box-shadow or, for text fields, the border) of at least 3:1
// against the background around it. At least one text field and one
// button must be among them.
func checkFocus(p *tab, f *appFrame, theme, what string) {
	t := p.t
	t.Helper()
	behind := hostBackground(p, f.id)
	eval[bool](f, `function() {
		const app = document.getElementById('app');
		app.setAttribute('tabindex', '-1');
		app.focus();
		return true;
	}`)
	kinds := map[string]bool{}
	var problems []string
	for i := 0; i < 30; i++ {
		if err := chromedp.Do(p.ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatalf("%s: pressing Tab: %v", f.id, err)
		}
		f.wait("the focus transition to end", `function() {
			const running = document.getAnimations().length;
			return {ok: running === 0, got: running};
		}`)
		r := eval[focusReport](f, `function(behind) {`+contrastJS+`
			const el = document.activeElement;
			const app = document.getElementById('app');
			if (!document.hasFocus() || !el || el === app || !app.contains(el)) return {in: false};
			const cs = getComputedStyle(el);
			const tag = el.tagName;
			const type = (el.getAttribute('type') || '').toLowerCase();
			const kind = tag === 'BUTTON' ? 'button' : (tag === 'TEXTAREA' || (tag === 'INPUT' && type !== 'checkbox' && type !== 'radio') || tag === 'SELECT') ? 'input' : tag.toLowerCase();
			const around = effectiveBg(el.parentElement, behind);
			const rings = [];
			if (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) rings.push(['outline', parse(cs.outlineColor)]);
			if (cs.boxShadow && cs.boxShadow !== 'none') rings.push(['box-shadow', parse(cs.boxShadow)]);
			if (kind === 'input' && parseFloat(cs.borderBottomWidth) > 0) rings.push(['border', parse(cs.borderBottomColor)]);
			let best = 0, bestDesc = '';
			for (const [name, c] of rings) {
				if (!c) continue;
				const got = ratio(over(c, around), around);
				if (got > best) { best = got; bestDesc = name + ' ' + css(c); }
			}
			const problem = !rings.length ? 'no focus indicator' :
				best < 3 ? bestDesc + ' on ' + css(around) + ' is ' + best.toFixed(2) + ':1, want 3:1' : '';
			return {in: true, element: describe(el), kind, problem};
		}`, behind)
		if !r.In {
			break
		}
		kinds[r.Kind] = true
		if r.Problem != "" {
			problems = append(problems, fmt.Sprintf("focus %s: %s", r.Element, r.Problem))
		}
	}
	if !kinds["input"] || !kinds["button"] {
		t.Errorf("%s, %s (%s): Tab reached %v, want at least a text field and a button", f.id, what, theme, kinds)
	}
	if len(problems) > 0 {
		t.Errorf("%s, %s (%s): focus indicators below 3:1:\n\t%s", f.id, what, theme, strings.Join(problems, "\n\t"))
	}
}
