// The host-page side of the Secrets sandbox's AP bridge, served at
// /dev/host.js to the sandbox's Jira and Confluence pages. all.js, inside
// each app iframe, is the other side; its header describes the protocol.
//
// A message is read only when it comes from one of this page's app iframes
// (event.source is the frame's window), from the origin of that frame's URL,
// and on that frame's channel; answers go to that window and origin only.
(function () {
  'use strict';

  const PREFIX = 'secrets-sandbox:';
  const MIN_HEIGHT = 32;
  const MAX_HEIGHT = 10000;
  const FLAG_TYPES = new Set(['info', 'success', 'warning', 'error']);
  const FLAG_MS = 8 * 1000;
  const MAX_FLAG_TITLE = 200;
  const MAX_FLAG_BODY = 1000;

  const metaAccount = document.querySelector('meta[name="sandbox-account-id"]');
  const accountId = metaAccount ? metaAccount.content : '';

  function appFrames() {
    return document.querySelectorAll('iframe.app-frame');
  }

  function frameOf(source) {
    if (!source) return null;
    for (const f of appFrames()) {
      if (f.contentWindow === source) return f;
    }
    return null;
  }

  function originOf(frame) {
    try {
      return new URL(frame.src, window.location.href).origin;
    } catch {
      return '';
    }
  }

  window.addEventListener('message', (event) => {
    const frame = frameOf(event.source);
    if (!frame) return;
    const origin = originOf(frame);
    if (!origin || origin === 'null' || event.origin !== origin) return;
    const msg = event.data;
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string' || !msg.type.startsWith(PREFIX)) return;
    if (msg.channel !== frame.dataset.channel) return;

    const reply = (answer) => {
      if (typeof msg.id !== 'number') return;
      try {
        event.source.postMessage(Object.assign({ type: PREFIX + 'reply', id: msg.id }, answer), origin);
      } catch {
        // The frame navigated away or closed; nobody is waiting any more.
      }
    };

    switch (msg.type.slice(PREFIX.length)) {
      case 'resize':
        resize(frame, msg.height);
        break;
      case 'getToken':
        contextToken(frame).then(
          (token) => reply({ value: token }),
          (err) => reply({ error: err.message }),
        );
        break;
      case 'getCurrentUser':
        reply({ value: { atlassianAccountId: accountId } });
        break;
      case 'flag':
        showFlag(frame, msg.flag);
        break;
      case 'closeFlag':
        closeFlag(frame, msg.flag);
        break;
      case 'theming':
        themedFrames.add(frame);
        sendTheme(frame);
        break;
      default:
        break;
    }
  });

  // ---- theme ------------------------------------------------------------
  //
  // The page's theme is data-color-mode on <html>: the server sets it from
  // ?theme=, the toggle in the top bar flips it. Frames that asked for
  // theming (AP.theming.initializeTheming) get it now and on every change;
  // the others stay light, as on a real site. Forge frames are told by
  // forge-host.js, which watches the same attribute.

  const themedFrames = new Set();

  function currentTheme() {
    return document.documentElement.dataset.colorMode === 'dark' ? 'dark' : 'light';
  }

  function sendTheme(frame) {
    const origin = originOf(frame);
    if (!frame.contentWindow || !origin || origin === 'null') return;
    try {
      frame.contentWindow.postMessage({ type: PREFIX + 'theme', channel: frame.dataset.channel, theme: currentTheme() }, origin);
    } catch {
      // The frame navigated away; it asks again when it loads.
    }
  }

  // keepTheme makes the page's links and address carry the theme, so that
  // it survives navigation and reloads.
  function keepTheme() {
    const theme = currentTheme();
    const mark = (u) => {
      if (theme === 'dark') u.searchParams.set('theme', 'dark');
      else u.searchParams.delete('theme');
    };
    for (const a of document.querySelectorAll('a[href]')) {
      const u = new URL(a.href, window.location.href);
      if (u.origin !== window.location.origin || !a.closest('.topbar, #sandbox-pages')) continue;
      mark(u);
      a.href = u.pathname + u.search + u.hash;
    }
    const here = new URL(window.location.href);
    mark(here);
    if (here.href !== window.location.href) history.replaceState(history.state, '', here.href);
  }

  function setTheme(theme) {
    document.documentElement.dataset.colorMode = theme;
    const toggle = document.getElementById('sandbox-theme-toggle');
    if (toggle) toggle.setAttribute('aria-pressed', String(theme === 'dark'));
    keepTheme();
    for (const f of themedFrames) {
      if (f.isConnected) sendTheme(f);
      else themedFrames.delete(f);
    }
  }

  function startTheme() {
    const toggle = document.getElementById('sandbox-theme-toggle');
    if (toggle) toggle.addEventListener('click', () => setTheme(currentTheme() === 'dark' ? 'light' : 'dark'));
    keepTheme();
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', startTheme);
  } else {
    startTheme();
  }

  // resize fits the frame to the height the app asked for, within bounds a
  // misbehaving app cannot push the page beyond. Setting style through the
  // CSSOM is allowed by style-src 'self'; a style attribute would not be.
  function resize(frame, height) {
    const h = Number(height);
    if (!Number.isFinite(h)) return;
    frame.style.height = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, Math.ceil(h))) + 'px';
  }

  // contextToken gets a context token for the frame's user and context from
  // the sandbox, as a real host mints one for AP.context.getToken().
  function contextToken(frame) {
    return fetch(frame.dataset.tokenUrl, {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'application/json' },
    }).then((res) => {
      if (!res.ok) throw new Error('the host could not issue a context token (' + res.status + ')');
      return res.json();
    }).then((body) => {
      if (!body || typeof body.token !== 'string') throw new Error('the host sent no context token');
      return body.token;
    });
  }

  function clip(v, max) {
    const s = typeof v === 'string' ? v : '';
    return s.length > max ? s.slice(0, max) + '…' : s;
  }

  function flagKey(frame, flag) {
    return frame.id + ':' + String(flag && flag.id);
  }

  // showFlag shows AP.flag.create's notification. Its text is set with
  // textContent only: a flag's title and body come from the app frame.
  function showFlag(frame, flag) {
    const box = document.getElementById('sandbox-flags');
    if (!box || !flag || typeof flag !== 'object') return;
    const type = FLAG_TYPES.has(flag.type) ? flag.type : 'info';

    const el = document.createElement('div');
    el.className = 'flag flag-' + type;
    el.dataset.flag = flagKey(frame, flag);
    el.setAttribute('role', type === 'error' || type === 'warning' ? 'alert' : 'status');

    const title = document.createElement('p');
    title.className = 'flag-title';
    title.textContent = clip(flag.title, MAX_FLAG_TITLE);
    const body = document.createElement('p');
    body.className = 'flag-body';
    body.textContent = clip(flag.body, MAX_FLAG_BODY);
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'flag-close';
    close.textContent = 'Dismiss';
    close.addEventListener('click', () => el.remove());

    el.append(title, body, close);
    box.append(el);
    // Errors stay until dismissed, as Atlassian's do.
    if (type !== 'error') setTimeout(() => el.remove(), FLAG_MS);
  }

  // forge-host.js shows the Forge frames' flags (showFlag) the same way.
  window.sandboxFlags = { show: showFlag };

  function closeFlag(frame, flag) {
    const key = flagKey(frame, flag);
    for (const el of document.querySelectorAll('#sandbox-flags .flag')) {
      if (el.dataset.flag === key) el.remove();
    }
  }
})();
