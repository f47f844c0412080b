// The Secrets sandbox's stand-in for the Forge platform's side of
// @forge/bridge, served at /dev/forge/bridge.js?frame=<id> and loaded by the
// sandbox at the top of each Custom UI frame's <head>, before the app's
// module script. @forge/bridge sends every call through
// globalThis.__bridge.callBridge(name, payload); this answers the three the
// app makes (forge/BRIDGE.md):
//
//   getContext     → the frame's module context, as the sandbox recorded it
//   enableTheming  → links the design tokens (/dev/tokens.css) into the
//                    frame, asks the page for its theme and resolves once
//                    data-color-mode and data-theme on <html> follow it;
//                    they keep following it when the page's toggle flips
//   showFlag       → asks the page (forge-host.js) to show the flag, as the
//                    platform shows showFlag's notification over the page
//   submit         → view.submit of a macro's config form: POST
//                    /dev/forge/submit?frame=<id>, which keeps the macro's
//                    config for its next render; rejects if refused
//   close          → view.close: resolves (the sandbox has no dialog)
//   invoke         → invokeRemote: POST /dev/forge/invoke<path>?frame=<id>,
//                    where the sandbox mints the FIT for this frame and calls
//                    the app; resolves {success, payload: {status, headers,
//                    body}}, and rejects on a 401 as the platform does.
//
// Every other name resolves to undefined. The frame's height is reported to
// the sandbox page (forge-host.js), which sizes the iframe, since Forge
// sizes Custom UI frames itself.
(function () {
  'use strict';

  const script = document.currentScript;
  const src = new URL(script.src, window.location.href);
  const frame = src.searchParams.get('frame') || '';
  const base = new URL('./', src); // /dev/forge/
  const q = '?frame=' + encodeURIComponent(frame);

  let context = null;
  function getContext() {
    if (!context) {
      context = fetch(new URL('context' + q, base), { headers: { Accept: 'application/json' } })
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error('The sandbox does not know this frame. Reload the page.'))));
    }
    return context;
  }

  // Theming: the page (forge-host.js) answers 'secrets-forge:theming' with
  // its theme, and sends it again on every change.
  let theming = null;
  let themeArrived = null;
  function applyTheme(theme) {
    const mode = theme === 'dark' ? 'dark' : 'light';
    document.documentElement.dataset.colorMode = mode;
    document.documentElement.dataset.theme = 'dark:dark light:light';
    if (themeArrived) themeArrived();
  }
  window.addEventListener('message', (event) => {
    if (event.source !== window.parent || event.origin !== window.location.origin) return;
    const msg = event.data;
    if (theming && msg && typeof msg === 'object' && msg.type === 'secrets-forge:theme') applyTheme(msg.theme);
  });
  function enableTheming() {
    if (!theming) {
      const link = document.createElement('link');
      link.rel = 'stylesheet';
      link.href = new URL('../tokens.css', base).href;
      document.head.append(link);
      theming = new Promise((resolve) => {
        // Ask until the page answers: its script may not listen yet. A
        // page that never answers leaves the frame light.
        const ask = () => window.parent.postMessage({ type: 'secrets-forge:theming', frame: frame }, window.location.origin);
        const retry = setInterval(ask, 100);
        const done = () => {
          clearInterval(retry);
          clearTimeout(giveUp);
          themeArrived = null;
          resolve();
        };
        const giveUp = setTimeout(() => {
          if (!document.documentElement.dataset.colorMode) applyTheme('light');
          done();
        }, 3000);
        themeArrived = done;
        ask();
      });
    }
    return theming;
  }

  function invoke(payload) {
    const p = payload || {};
    const path = typeof p.path === 'string' ? p.path : '';
    const pathOnly = path.split('?')[0];
    if (!pathOnly.startsWith('/')) {
      return Promise.reject(new Error('invokeRemote needs a path'));
    }
    return fetch(new URL('invoke' + pathOnly + q, base).href.replace('/invoke//', '/invoke/'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ path: path, method: p.method || 'GET', headers: p.headers || {}, body: p.body }),
    }).then((r) => r.json().then((answer) => {
      if (!answer || typeof answer.status !== 'number') {
        return Promise.reject(new Error('The sandbox could not reach the app.'));
      }
      if (answer.status === 401) {
        return Promise.reject(new Error('Remote could not verify the Forge Invocation Token'));
      }
      return { success: true, payload: answer };
    }, () => Promise.reject(new Error('The sandbox could not reach the app.'))));
  }

  globalThis.__bridge = {
    callBridge(name, payload) {
      try {
        switch (name) {
          case 'getContext':
            return getContext();
          case 'enableTheming':
            return enableTheming();
          case 'invoke':
            return invoke(payload);
          case 'submit':
            return fetch(new URL('submit' + q, base), {
              method: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify(payload || {}),
            }).then((r) => (r.ok ? undefined : Promise.reject(new Error('The sandbox refused the config.'))));
          case 'close':
            return Promise.resolve(true);
          case 'showFlag': {
            const o = payload || {};
            window.parent.postMessage({ type: 'secrets-forge:flag', frame: frame, flag: {
              id: String(o.id || ''), title: String(o.title || ''), body: String(o.description || ''), type: String(o.type || 'info'),
            } }, window.location.origin);
            return Promise.resolve(undefined);
          }
        }
      } catch (err) {
        return Promise.reject(err);
      }
      return Promise.resolve(undefined);
    },
  };

  // Report the document's height to the sandbox page whenever it changes.
  let last = -1;
  function report() {
    const h = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (h === last) return;
    last = h;
    window.parent.postMessage({ type: 'secrets-forge:resize', frame: frame, height: h }, window.location.origin);
  }
  function observe() {
    new ResizeObserver(report).observe(document.documentElement);
    if (document.body) new ResizeObserver(report).observe(document.body);
    report();
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', observe);
  } else {
    observe();
  }
})();
