// The site-admin page: three tabs, Secrets (every secret of the site, with
// lockout reset and delete), Policy and Audit log.
//
// Who may use it is the server's decision: every admin route answers 403
// to anyone the host does not confirm as a site admin, and the page then
// shows one message instead of itself. Nothing here ever sees secret content.

import { AdminApi } from './admin-api.js';
import { AuditPanel } from './admin-audit.js';
import { PolicyPanel } from './admin-policy.js';
import { SecretsPanel } from './admin-secrets.js';
import { h, replaceChildren, uid } from './dom.js';
import { refreshTimes } from './format.js';
import { t } from './i18n.js';
import { sessionExpired } from './messages.js';
import { Session } from './session.js';

const TICK_MS = 30 * 1000;

/**
 * mountAdmin renders the admin page into root. Without an api it opens the
 * session from the page's <meta name="token">.
 *
 * @param {HTMLElement} root
 * @param {{host: import('./host.js').Host, api?: AdminApi}} deps
 */
export function mountAdmin(root, { host, api } = {}) {
  let page = null;
  let session = null;
  if (!api) {
    session = new Session(meta('token'), { onExpired: () => page && page.sessionExpired() });
    api = new AdminApi(session);
  }
  page = new AdminPage(root, { api, host });
  if (session && session.expired) {
    page.sessionExpired();
    return page;
  }
  page.start();
  return page;
}

function meta(name) {
  const el = document.querySelector(`meta[name="${name}"]`);
  return el ? el.content : '';
}

/**
 * AdminPage holds the tabs and decides about errors that concern the whole
 * page: an expired session and a refusal because the user is not an admin.
 */
class AdminPage {
  #root;
  #host;
  #banner = h('div', { class: 'banner', role: 'alert' });
  #api;
  // One line of licence state, shown only when the deployment checks licences.
  #licence = h('p', { class: 'admin-licence', hidden: true });
  #tabs = [];
  #current = -1;
  #timer = 0;
  #over = false;

  constructor(root, { api, host }) {
    this.#root = root;
    this.#host = host;
    this.#api = api;
    const ctx = {
      api,
      host,
      failed: (err) => this.#failed(err),
      changed: () => host.resize(),
    };
    const panels = [
      [t('admin.tab.secrets'), new SecretsPanel(ctx)],
      [t('admin.tab.policy'), new PolicyPanel(ctx)],
      [t('admin.tab.audit'), new AuditPanel(ctx)],
    ];

    const tablist = h('div', { class: 'admin-tabs', role: 'tablist', 'aria-label': t('admin.title') });
    this.#tabs = panels.map(([label, panel], i) => {
      const tabId = uid('admin-tab');
      const panelId = uid('admin-panel');
      const tab = h('button', {
        type: 'button',
        role: 'tab',
        id: tabId,
        class: 'admin-tab',
        'aria-controls': panelId,
        'aria-selected': 'false',
        tabindex: '-1',
        on: {
          click: () => this.select(i),
          keydown: (e) => this.#tabKey(e, i),
        },
      }, label);
      const el = h('div', { role: 'tabpanel', id: panelId, class: 'admin-panel', 'aria-labelledby': tabId, hidden: true },
        panel.el);
      tablist.append(tab);
      return { tab, el, panel };
    });

    root.classList.add('admin');
    replaceChildren(root,
      header(),
      this.#banner,
      this.#licence,
      tablist,
      ...this.#tabs.map((x) => x.el),
    );
  }

  /** start shows the first tab and keeps relative times current. */
  start() {
    this.select(0);
    this.#api.licence().then((l) => {
      if (!l.licensing || typeof l.message !== 'string') return;
      this.#licence.textContent = l.message;
      this.#licence.dataset.state = l.state === 'active' ? 'active' : 'inactive';
      this.#licence.hidden = false;
      this.#host.resize();
    }, (err) => this.#failed(err));
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.#tick();
    });
  }

  /** select shows tab i (loading it the first time); focus moves the focus to its tab. */
  select(i, { focus = false } = {}) {
    if (this.#over || i < 0 || i >= this.#tabs.length) return;
    if (i !== this.#current) {
      this.#tabs.forEach((x, j) => {
        const on = j === i;
        x.tab.setAttribute('aria-selected', String(on));
        x.tab.tabIndex = on ? 0 : -1;
        x.el.hidden = !on;
      });
      this.#current = i;
      this.#tabs[i].panel.show();
    }
    if (focus) this.#tabs[i].tab.focus();
    this.#host.resize();
  }

  /** sessionExpired says the one thing that still helps: reload. */
  sessionExpired() {
    if (this.#over) return;
    this.#banner.textContent = sessionExpired();
    this.#root.classList.add('is-expired');
    this.#host.resize();
  }

  /**
   * forbidden replaces the page with the message for non-admins. Nothing
   * on the page can work for them, so nothing else stays.
   */
  forbidden() {
    if (this.#over) return;
    this.#over = true;
    clearInterval(this.#timer);
    replaceChildren(this.#root,
      header(),
      h('div', { class: 'admin-forbidden', role: 'alert' },
        h('p', { class: 'admin-forbidden-title', text: t('admin.forbidden.title') }),
        h('p', { text: t('admin.forbidden.hint') })));
    this.#host.resize();
  }

  #failed(err) {
    const code = err && err.code;
    if (code === 'session_expired' || code === 'unauthorized') {
      this.sessionExpired();
      return true;
    }
    if (code === 'forbidden') {
      this.forbidden();
      return true;
    }
    return false;
  }

  // Arrow keys, Home and End move between tabs (the ARIA tabs pattern with
  // automatic activation).
  #tabKey(e, i) {
    const n = this.#tabs.length;
    let to = -1;
    switch (e.key) {
      case 'ArrowRight': to = (i + 1) % n; break;
      case 'ArrowLeft': to = (i - 1 + n) % n; break;
      case 'Home': to = 0; break;
      case 'End': to = n - 1; break;
      default: return;
    }
    e.preventDefault();
    this.select(to, { focus: true });
  }

  #tick() {
    if (!this.#over) refreshTimes(this.#root);
  }
}

function header() {
  return h('header', { class: 'app-header' },
    h('div', { class: 'app-title' }, h('h1', { text: t('admin.title') })));
}
