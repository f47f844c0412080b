// The secrets of one container (a Jira issue or a Confluence macro): the
// header with "Add secret", the list, its empty and error states, and the
// app-wide messages (session expired, added, deleted).

import { AddForm } from './add-form.js';
import { button, h, replaceChildren } from './dom.js';
import { refreshTimes } from './format.js';
import { MessageArea } from './forms.js';
import { t } from './i18n.js';
import { describeError, sessionExpired } from './messages.js';
import { SecretItem } from './secret.js';

// How often relative times are refreshed and expired unlocks are swept up.
const TICK_MS = 30 * 1000;

/**
 * SecretsView mounts the app into root.
 */
export class SecretsView {
  #root;
  #api;
  #host;
  #items = new Map(); // id → SecretItem, in list order
  #addForm = null;
  #status = new MessageArea('status');
  #banner = h('div', { class: 'banner', role: 'alert' });
  #addButton;
  #addSlot = h('div', { class: 'add-slot' });
  #list = h('ul', { class: 'secrets', 'aria-label': t('panel.list.label') });
  #placeholder = h('div', { class: 'placeholder' });

  /**
   * @param {HTMLElement} root
   * @param {{api: import('./api.js').Api, host: import('./host.js').Host, label: string, name?: string}} deps
   *   name: the heading a Confluence macro was given; none when empty.
   */
  constructor(root, { api, host, name }) {
    this.#root = root;
    this.#api = api;
    this.#host = host;
    this.#addButton = button(t('panel.list.add'), {
      kind: 'primary',
      'aria-expanded': 'false',
      onClick: () => this.#openAddForm(),
    });

    replaceChildren(root,
      h('header', { class: 'app-header' },
        // No heading of our own that repeats the host's: Jira titles the
        // issue panel already, and a macro shows one only when its author
        // named it. The name is text, never markup.
        h('div', { class: 'app-title' }, headingOf(name)),
        this.#addButton),
      this.#banner,
      this.#status.el,
      this.#addSlot,
      this.#list,
      this.#placeholder,
    );

    setInterval(() => this.#tick(), TICK_MS);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.#tick();
    });
    // Leaving the page (closing the issue, navigating away, or going into
    // the back/forward cache) locks every open secret: the unlock tokens are
    // revoked and no content stays in a page that may be shown again.
    window.addEventListener('pagehide', () => {
      for (const item of this.#items.values()) {
        if (item.unlocked) item.lock({ keepalive: true });
      }
    });
  }

  /** load fetches the list and shows it. */
  async load() {
    this.#root.setAttribute('aria-busy', 'true');
    replaceChildren(this.#placeholder, h('p', { class: 'loading', text: t('panel.list.loading') }));
    this.#changed();
    try {
      this.#reconcile(await this.#api.listSecrets());
    } catch (err) {
      if (this.#appFailure(err)) {
        // The banner says it all; a "Try again" could not succeed.
        this.#placeholder.replaceChildren();
      } else {
        replaceChildren(this.#placeholder,
          h('div', { class: 'load-error' },
            h('p', { text: describeError(err) }),
            button(t('panel.list.retry'), { onClick: () => this.load() })));
      }
    } finally {
      this.#root.removeAttribute('aria-busy');
      this.#changed();
    }
  }

  /** sessionExpired shows the one message that still helps: reload. */
  sessionExpired() {
    this.#banner.textContent = sessionExpired();
    this.#root.classList.add('is-expired');
    this.#changed();
  }

  // #reconcile brings the list in line with the server's, keeping the open
  // state of secrets that did not change.
  #reconcile(secrets) {
    const seen = new Set();
    for (const meta of secrets) {
      if (!meta || typeof meta.id !== 'string') continue;
      seen.add(meta.id);
      let item = this.#items.get(meta.id);
      if (item) {
        item.update(meta);
      } else {
        item = this.#newItem(meta);
      }
      // Appending an element that is already in the list moves it, so this
      // also applies the server's order.
      this.#list.append(item.el);
    }
    for (const [id, item] of this.#items) {
      if (!seen.has(id)) this.#drop(item);
    }
    this.#renderPlaceholder();
  }

  #newItem(meta) {
    const item = new SecretItem(meta, {
      api: this.#api,
      host: this.#host,
      removed: (it, message) => {
        this.#drop(it);
        this.#renderPlaceholder();
        this.#status.show(message, { tone: 'success', clearAfter: 8000 });
        this.#addButton.focus();
      },
      reload: () => this.load(),
      failed: (err) => this.#appFailure(err),
      changed: () => this.#changed(),
    });
    this.#items.set(meta.id, item);
    return item;
  }

  #drop(item) {
    item.dispose();
    item.el.remove();
    this.#items.delete(item.id);
  }

  #renderPlaceholder() {
    // Add is the page's main action only while there is nothing to read;
    // once secrets exist it steps back so they lead.
    const quiet = this.#items.size > 0;
    this.#addButton.classList.toggle('primary', !quiet);
    this.#addButton.classList.toggle('default', quiet);
    if (this.#items.size > 0) {
      this.#placeholder.replaceChildren();
      this.#list.hidden = false;
    } else {
      this.#list.hidden = true;
      replaceChildren(this.#placeholder,
        h('div', { class: 'empty' },
          h('p', { class: 'empty-title', text: t('panel.list.emptyTitle') }),
          h('p', { text: this.#addForm
            ? t('panel.list.emptyWithForm')
            : t('panel.list.empty') })));
    }
    this.#changed();
  }

  #openAddForm() {
    if (this.#addForm) {
      this.#addForm.focus();
      return;
    }
    this.#status.clear();
    this.#addForm = new AddForm({
      api: this.#api,
      created: (meta) => {
        this.#closeAddForm();
        const item = this.#items.get(meta.id) || this.#newItem(meta);
        this.#list.append(item.el);
        this.#renderPlaceholder();
        // Inline, next to the new secret's password field the focus moves
        // to, rather than a host flag over the page.
        this.#status.show(t('panel.list.added', { title: meta.title }), { tone: 'success', clearAfter: 8000 });
        item.el.querySelector('input[type="password"]')?.focus();
      },
      cancelled: () => {
        this.#closeAddForm();
        this.#addButton.focus();
      },
      failed: (err) => this.#appFailure(err),
      changed: () => this.#changed(),
    });
    this.#addButton.hidden = true;
    this.#addButton.setAttribute('aria-expanded', 'true');
    replaceChildren(this.#addSlot, this.#addForm.el);
    this.#renderPlaceholder();
    this.#addForm.focus();
  }

  #closeAddForm() {
    if (!this.#addForm) return;
    this.#addForm.dispose();
    this.#addForm = null;
    this.#addSlot.replaceChildren();
    this.#addButton.hidden = false;
    this.#addButton.setAttribute('aria-expanded', 'false');
    this.#renderPlaceholder();
  }

  // #appFailure reacts to errors that concern the whole app rather than
  // the form or secret that ran into them, and reports whether err was one.
  #appFailure(err) {
    if (err && (err.code === 'session_expired' || err.code === 'unauthorized')) {
      this.sessionExpired();
      return true;
    }
    return false;
  }

  #tick() {
    refreshTimes(this.#root);
    for (const item of this.#items.values()) item.checkExpiry();
  }

  #changed() {
    this.#host.resize();
  }
}

// headingOf is the view's heading: the macro's name, or nothing.
function headingOf(name) {
  const text = typeof name === 'string' ? name.trim() : '';
  return text ? h('h1', { class: 'app-name', text }) : null;
}
