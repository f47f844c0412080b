// The host page (Jira or Confluence) as seen through Atlassian's all.js.
//
// Every use of window.AP is guarded: the page must still work when all.js
// failed to load, when it is the sandbox's stand-in with fewer features, or
// when a test opens the page outside an iframe.

import { t } from './i18n.js';

// anotherUser is the name of someone the host cannot name for us. A
// function, not a constant: the language is chosen after modules load.
const anotherUser = () => t('panel.person.another');
const NAME_TIMEOUT_MS = 10 * 1000;
const MAX_NAME_CHARS = 100;

// User lookup endpoints; AP.request adds the product's context path
// (Confluence's /wiki) itself.
const USER_URL = {
  jira: (id) => `/rest/api/3/user?accountId=${encodeURIComponent(id)}`,
  confluence: (id) => `/rest/api/user?accountId=${encodeURIComponent(id)}`,
};

/**
 * Host wraps the AP bridge: iframe resizing and user display names.
 */
export class Host {
  #product;
  #me;
  #names = new Map(); // account id → Promise<string>
  #resolved = new Map(); // account id → string, once the promise settled
  #resizeQueued = false;
  #frame = 0;
  #timer = 0;
  #showFlag = null; // Forge: @forge/bridge's showFlag
  #flags = 0;

  /**
   * @param {{product: string, accountId: string, showFlag?: Function}} ctx
   *   showFlag: @forge/bridge's showFlag, in a Forge frame
   */
  constructor({ product, accountId, showFlag }) {
    this.#product = product;
    this.#me = accountId;
    if (typeof showFlag === 'function') this.#showFlag = showFlag;
    followTheme();
  }

  /**
   * watchSize keeps the iframe fitted to the document from now on, whatever
   * changes its height (renders, wrapping text, fonts loading).
   */
  watchSize() {
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(() => this.resize()).observe(document.body);
    }
    this.resize();
  }

  /**
   * resize asks the host to fit the iframe to the content, at most once per
   * frame. A timer backs up requestAnimationFrame, which browsers pause in
   * iframes they consider hidden, and a hidden iframe would never grow.
   */
  resize() {
    if (this.#resizeQueued) return;
    this.#resizeQueued = true;
    const run = () => {
      if (!this.#resizeQueued) return;
      this.#resizeQueued = false;
      cancelAnimationFrame(this.#frame);
      clearTimeout(this.#timer);
      const AP = window.AP;
      if (AP && typeof AP.resize === 'function') {
        try {
          AP.resize();
        } catch {
          // The bridge is not ready or gone; the next render tries again.
        }
      }
    };
    this.#frame = requestAnimationFrame(run);
    this.#timer = setTimeout(run, 100);
  }

  /** isMe reports whether accountId is the current user. */
  isMe(accountId) {
    return Boolean(accountId) && accountId === this.#me;
  }

  /**
   * displayName resolves an account id to something to show: "you", the
   * user's display name from the host, or "another user" when the host
   * cannot tell us. Lookups are cached per account id for the page's life.
   *
   * @returns {Promise<string>}
   */
  displayName(accountId) {
    if (this.isMe(accountId)) return Promise.resolve(t('panel.person.you'));
    if (!accountId || typeof accountId !== 'string') return Promise.resolve(anotherUser());
    let name = this.#names.get(accountId);
    if (!name) {
      name = this.#lookUp(accountId);
      this.#names.set(accountId, name);
    }
    return name;
  }

  /**
   * knownName returns the name without waiting when it is already resolved,
   * or "" if not, so a re-render does not flash a placeholder.
   */
  knownName(accountId) {
    if (this.isMe(accountId)) return t('panel.person.you');
    return this.#resolved.get(accountId) || '';
  }

  /**
   * flag shows a transient success message as the host's own notification
   * (Connect's AP.flag.create, Forge's showFlag), which outlives re-renders
   * of the frame and does not push the content around. It reports whether
   * the host took it; where there is no flag API (no all.js, an old bridge)
   * the caller shows the message inline instead.
   */
  flag(title) {
    if (this.#showFlag) {
      try {
        this.#showFlag({ id: `secrets-${++this.#flags}`, title, type: 'success', isAutoDismiss: true });
        return true;
      } catch {
        return false;
      }
    }
    const AP = window.AP;
    if (!AP || !AP.flag || typeof AP.flag.create !== 'function') return false;
    try {
      AP.flag.create({ title, type: 'success', close: 'auto' });
      return true;
    } catch {
      return false;
    }
  }

  #lookUp(accountId) {
    const url = USER_URL[this.#product];
    const AP = window.AP;
    if (!url || !AP || typeof AP.request !== 'function') return Promise.resolve(anotherUser());
    return new Promise((resolve) => {
      let settled = false;
      const done = (name) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#resolved.set(accountId, name);
        resolve(name);
      };
      const timer = setTimeout(() => done(anotherUser()), NAME_TIMEOUT_MS);
      try {
        // all.js supports callbacks everywhere; newer versions also return a
        // promise of {body}. Use both, first answer wins, and always attach
        // a rejection handler so a failed lookup never logs an error.
        const ret = AP.request({
          url: url(accountId),
          type: 'GET',
          success: (body) => done(nameFrom(body)),
          error: () => done(anotherUser()),
        });
        if (ret && typeof ret.then === 'function') {
          ret.then((res) => done(nameFrom(res && res.body)), () => done(anotherUser()));
        }
      } catch {
        done(anotherUser());
      }
    });
  }
}

// nameFrom extracts displayName from a user resource, given as JSON text or
// already parsed. Anything unexpected is "another user".
function nameFrom(body) {
  try {
    const user = typeof body === 'string' ? JSON.parse(body) : body;
    const name = user && typeof user.displayName === 'string' ? user.displayName.trim() : '';
    if (!name) return anotherUser();
    return name.length > MAX_NAME_CHARS ? `${name.slice(0, MAX_NAME_CHARS)}…` : name;
  } catch {
    return anotherUser();
  }
}

// followTheme asks Connect's all.js to apply the host's theme (light, dark,
// or the user's system setting) to this frame: the host then sets
// data-color-mode on <html> and provides the --ds-* design tokens that
// app.css reads, keeping its fallbacks when nothing arrives. Forge frames
// have no window.AP: forge-app.js calls view.theme.enable() instead.
function followTheme() {
  const AP = window.AP;
  try {
    if (AP && AP.theming && typeof AP.theming.initializeTheming === 'function') AP.theming.initializeTheming();
  } catch {
    // Theming is cosmetic: an old all.js without it keeps the light look.
  }
}
