// The Secrets sandbox's stand-in for Atlassian's all.js, served at /dev/all.js
// to the app's module pages when they are framed by the sandbox.
//
// Atlassian's all.js gives an app iframe window.AP, a bridge to the host page
// over postMessage. This one gives the Secrets app the part of that API it
// uses, talking to the sandbox's host.js instead of Jira or Confluence. Like
// the real one it is a classic script, so window.AP exists before the app's
// modules run.
//
// Protocol. Every message is a plain object whose type starts with
// "secrets-sandbox:" and which carries this frame's channel (the xdm_c
// parameter). Requests that want an answer carry a numeric id; host.js
// answers {type: "secrets-sandbox:reply", id, value} or {…, id, error}.
// Messages go only to the host's origin (that of the xdm_e parameter the host
// put in our URL), and only messages from window.parent with that origin are
// read. host.js checks the same from its side.
(function () {
  'use strict';

  if (window.AP) return;

  const PREFIX = 'secrets-sandbox:';
  const TIMEOUT_MS = 10 * 1000;

  const params = new URLSearchParams(window.location.search);
  const hostBase = params.get('xdm_e') || '';
  const channel = params.get('xdm_c') || '';
  const host = parseHost(hostBase);
  const parentWindow = window.parent !== window ? window.parent : null;
  // Outside a sandbox frame (no host, or opened on its own) the bridge is
  // down: requests fail and notifications are dropped, as with a real
  // all.js that cannot reach its host.
  const connected = Boolean(host && parentWindow);

  // tokens.css sits next to this script, in the sandbox's /dev/.
  const tokensURL = document.currentScript ? new URL('tokens.css', document.currentScript.src).href : '';

  const pending = new Map(); // id → {resolve, reject, timer}
  let nextID = 1;

  function parseHost(raw) {
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
      return { origin: u.origin, path: u.pathname.replace(/\/+$/, '') };
    } catch {
      return null;
    }
  }

  function post(message) {
    if (!connected) return false;
    parentWindow.postMessage(Object.assign({ channel }, message), host.origin);
    return true;
  }

  window.addEventListener('message', (event) => {
    if (!connected || event.source !== parentWindow || event.origin !== host.origin) return;
    const msg = event.data;
    if (msg && typeof msg === 'object' && msg.type === PREFIX + 'theme') {
      applyTheme(msg.theme);
      return;
    }
    if (!msg || typeof msg !== 'object' || msg.type !== PREFIX + 'reply') return;
    const call = pending.get(msg.id);
    if (!call) return;
    pending.delete(msg.id);
    clearTimeout(call.timer);
    if (typeof msg.error === 'string') {
      call.reject(new Error(msg.error));
    } else {
      call.resolve(msg.value);
    }
  });

  // ask sends a request to the host and resolves with its answer.
  function ask(type) {
    return new Promise((resolve, reject) => {
      const id = nextID++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('AP: the host did not answer'));
      }, TIMEOUT_MS);
      pending.set(id, { resolve, reject, timer });
      if (!post({ type: PREFIX + type, id })) {
        pending.delete(id);
        clearTimeout(timer);
        reject(new Error('AP: not connected to a host page'));
      }
    });
  }

  // withCallback calls cb (all.js's callback style) with the promise's value
  // and returns the promise. The no-op catch marks the promise handled, so a
  // caller that only passed a callback gets no unhandled-rejection noise,
  // while a caller that uses the promise still sees the rejection.
  function withCallback(promise, cb) {
    if (typeof cb === 'function') {
      promise.then((value) => setTimeout(() => cb(value)), () => {});
    }
    promise.catch(() => {});
    return promise;
  }

  // contentHeight is the height the document needs. Not the root's
  // scrollHeight alone: for the root element it never drops below the
  // viewport, so a frame could grow but never shrink back.
  function contentHeight() {
    const root = document.documentElement;
    const h = Math.ceil(root.getBoundingClientRect().height);
    return h > 0 ? h : root.scrollHeight;
  }

  function parseSize(v) {
    const n = typeof v === 'number' ? v : parseFloat(v);
    return Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0;
  }

  function xhrLike(res, text) {
    return {
      status: res ? res.status : 0,
      statusText: res ? res.statusText : 'error',
      responseText: text,
      getResponseHeader: (name) => (res ? res.headers.get(name) : null),
    };
  }

  // hostURL resolves a host REST path against the host's baseUrl (which ends
  // in /wiki on Confluence) and refuses anything that would leave it.
  function hostURL(path) {
    if (!host) throw new Error('AP.request: not connected to a host page');
    if (typeof path !== 'string' || path[0] !== '/' || path[1] === '/') {
      throw new Error('AP.request: the url must be a path on the host');
    }
    const u = new URL(host.origin + host.path + path);
    if (u.origin !== host.origin || !u.pathname.startsWith(host.path + '/')) {
      throw new Error('AP.request: the url must be a path on the host');
    }
    return u.href;
  }

  // request is AP.request: a call to the host's REST API as the current
  // user. No cookies are sent; the X-Sandbox-Session header stands in for
  // the site session a browser carries (hostapi.go refuses unsigned calls
  // without it, as a host refuses a server that does not sign).
  // Success callbacks get (body, statusText, xhr), error callbacks
  // (xhr, statusText, error); the promise resolves {body, xhr}.
  function request(options) {
    const opts = typeof options === 'string' ? { url: options } : options || {};
    const promise = new Promise((resolve, reject) => {
      const method = String(opts.type || 'GET').toUpperCase();
      const init = { method, credentials: 'omit', cache: 'no-store', headers: { 'X-Sandbox-Session': 'browser' } };
      if (opts.data !== undefined && opts.data !== null && method !== 'GET' && method !== 'HEAD') {
        init.body = typeof opts.data === 'string' ? opts.data : JSON.stringify(opts.data);
        init.headers['Content-Type'] = opts.contentType || 'application/json';
      }
      fetch(hostURL(opts.url), init).then(
        (res) => res.text().then((text) => {
          const xhr = xhrLike(res, text);
          if (res.ok) {
            resolve({ body: text, xhr });
          } else {
            reject(Object.assign(new Error('AP.request: the host answered ' + res.status), { xhr }));
          }
        }),
        (err) => reject(Object.assign(new Error('AP.request: ' + err.message), { xhr: xhrLike(null, '') })),
      );
    });
    promise.then(
      (r) => {
        if (typeof opts.success === 'function') setTimeout(() => opts.success(r.body, r.xhr.statusText, r.xhr));
      },
      (err) => {
        if (typeof opts.error === 'function') setTimeout(() => opts.error(err.xhr, 'error', err.message));
      },
    );
    return promise;
  }

  // Theming, as Atlassian's all.js does it once an app calls
  // AP.theming.initializeTheming(): the host sends its theme now and on
  // every change, and the frame gets the design tokens' values and
  // data-color-mode / data-theme on <html>. Frames that never call it keep
  // their own light look.
  let themed = false;
  function initializeTheming() {
    if (themed) return;
    themed = true;
    if (tokensURL && !document.querySelector('link[data-sandbox-tokens]')) {
      const link = document.createElement('link');
      link.rel = 'stylesheet';
      link.href = tokensURL;
      link.dataset.sandboxTokens = '';
      document.head.append(link);
    }
    // Ask until the host answers: its script may not listen yet.
    const ask = () => post({ type: PREFIX + 'theming' });
    themeRetry = setInterval(ask, 100);
    setTimeout(() => clearInterval(themeRetry), 3000);
    ask();
  }

  let themeRetry = 0;
  function applyTheme(theme) {
    if (!themed) return;
    clearInterval(themeRetry);
    const mode = theme === 'dark' ? 'dark' : 'light';
    const root = document.documentElement;
    root.dataset.colorMode = mode;
    root.dataset.theme = 'dark:dark light:light';
  }

  let nextFlagID = 1;

  window.AP = {
    resize(width, height) {
      post({ type: PREFIX + 'resize', height: parseSize(height) || contentHeight() });
    },
    sizeToParent() {},
    request,
    theming: { initializeTheming },
    context: {
      getToken: (cb) => withCallback(ask('getToken'), cb),
    },
    user: {
      getCurrentUser: (cb) => withCallback(ask('getCurrentUser'), cb),
    },
    flag: {
      create(options) {
        const o = options || {};
        const id = nextFlagID++;
        post({
          type: PREFIX + 'flag',
          flag: { id, title: String(o.title || ''), body: String(o.body || ''), type: String(o.type || 'info') },
        });
        return { close: () => post({ type: PREFIX + 'closeFlag', flag: { id } }) };
      },
    },
    events: {
      on() {},
      once() {},
      off() {},
      emit() {},
    },
  };
})();
