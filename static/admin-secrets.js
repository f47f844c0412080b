// The "Secrets" part of the admin page: every secret of the site with a
// search, paging, and the two things an admin may do without a password:
// reset a lockout and delete. Content is never fetched here.

import { SECRETS_PAGE_SIZE } from './admin-api.js';
import { findButton, locationText, loadError, person, withNodes } from './admin-shared.js';
import { append, button, field, h, replaceChildren, uid } from './dom.js';
import { timeElement } from './format.js';
import { MessageArea, onEscape } from './forms.js';
import { t } from './i18n.js';
import { describeError } from './messages.js';

const SEARCH_DELAY_MS = 300;

// Columns of the table, as catalogue keys. The labels double as the
// captions of the stacked layout on narrow screens (data-label); app.css
// selects cells by the stable key (data-col), which no language changes.
const COLUMNS = {
  title: 'admin.secrets.col.title',
  location: 'admin.secrets.col.location',
  createdBy: 'admin.secrets.col.createdBy',
  created: 'admin.secrets.col.created',
  updated: 'admin.secrets.col.updated',
  lastUnlocked: 'admin.secrets.col.lastUnlocked',
  failed: 'admin.secrets.col.failed',
  actions: 'admin.secrets.col.actions',
};
const COLUMN_COUNT = Object.keys(COLUMNS).length;

/**
 * SecretsPanel lists and manages the site's secrets.
 *
 * ctx: {api: AdminApi, host: Host, failed(err) → true when the page handled
 * it (session over, not an admin), changed()}
 */
export class SecretsPanel {
  #ctx;
  #status = new MessageArea('status');
  #heading;
  #search;
  #results = h('div', { class: 'admin-results' });
  #pager;
  #range = h('span', { class: 'admin-range' });
  // Says what a search or page change found; it stays in the DOM so screen
  // readers announce each change.
  #announce = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  #prev;
  #next;
  #q = '';
  #offset = 0;
  #total = 0;
  #secrets = [];
  #seq = 0;
  #loaded = false;
  #busy = false;
  #searchTimer = 0;

  constructor(ctx) {
    this.#ctx = ctx;
    const headingId = uid('admin-secrets');
    this.#heading = h('h2', { id: headingId, tabindex: '-1', text: t('admin.secrets.heading') });
    this.#search = h('input', {
      type: 'search',
      class: 'admin-search-input',
      autocomplete: 'off',
      spellcheck: 'false',
      maxlength: '200',
    });
    const searchForm = h('form', { class: 'admin-search', role: 'search', novalidate: true },
      field(t('admin.secrets.search'), this.#search, { hint: t('admin.secrets.searchHint') }));
    searchForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#searchNow();
    });
    this.#search.addEventListener('input', () => {
      clearTimeout(this.#searchTimer);
      this.#searchTimer = setTimeout(() => this.#searchNow(), SEARCH_DELAY_MS);
    });
    onEscape(this.#search, () => {
      if (this.#search.value === '') return;
      this.#search.value = '';
      this.#searchNow();
    });

    this.#prev = button(t('admin.secrets.previous'), { onClick: () => this.#page(-1) });
    this.#next = button(t('admin.secrets.next'), { onClick: () => this.#page(1) });
    this.#pager = h('nav', { class: 'admin-pager', 'aria-label': t('admin.secrets.pages'), hidden: true },
      this.#range, h('span', { class: 'admin-pager-buttons' }, this.#prev, this.#next));

    this.el = h('section', { class: 'admin-section admin-secrets', 'aria-labelledby': headingId },
      h('div', { class: 'admin-section-header' },
        this.#heading,
        h('p', { class: 'admin-intro', text: t('admin.secrets.intro') })),
      searchForm,
      this.#status.el,
      this.#announce,
      this.#results,
      this.#pager,
    );
  }

  /** show loads the list the first time the section is shown. */
  show() {
    if (!this.#loaded) this.load();
  }

  /**
   * load fetches the current page. focusIndex: after the list is shown,
   * focus the Delete button of that row (or the last row), else the heading.
   */
  async load({ focusIndex } = {}) {
    this.#loaded = true;
    const seq = ++this.#seq;
    this.el.setAttribute('aria-busy', 'true');
    if (this.#secrets.length === 0) {
      replaceChildren(this.#results, h('p', { class: 'loading', text: t('admin.secrets.loading') }));
    }
    this.#ctx.changed();
    try {
      const page = await this.#ctx.api.listSecrets({ q: this.#q, offset: this.#offset, limit: SECRETS_PAGE_SIZE });
      if (seq !== this.#seq) return;
      // The page fell off the end (deleted from elsewhere, or the last
      // secret of the last page went): step back to the last real page.
      if (page.secrets.length === 0 && this.#offset > 0 && page.total > 0) {
        this.#offset = Math.max(0, Math.floor((page.total - 1) / SECRETS_PAGE_SIZE) * SECRETS_PAGE_SIZE);
        this.load({ focusIndex });
        return;
      }
      this.#secrets = page.secrets.filter((s) => s && typeof s.id === 'string');
      this.#total = Math.max(page.total, this.#offset + this.#secrets.length);
      this.#render();
      if (focusIndex !== undefined) this.#focusRow(focusIndex);
    } catch (err) {
      if (seq !== this.#seq) return;
      if (this.#ctx.failed(err)) return;
      this.#secrets = [];
      this.#pager.hidden = true;
      replaceChildren(this.#results, loadError(err, () => this.load()));
    } finally {
      if (seq === this.#seq) this.el.removeAttribute('aria-busy');
      this.#ctx.changed();
    }
  }

  #searchNow() {
    clearTimeout(this.#searchTimer);
    const q = this.#search.value.trim();
    if (q === this.#q && this.#loaded) return;
    this.#q = q;
    this.#offset = 0;
    this.#status.clear();
    this.load();
  }

  #page(step) {
    const offset = this.#offset + step * SECRETS_PAGE_SIZE;
    if (offset < 0 || offset >= this.#total) return;
    this.#offset = offset;
    this.#status.clear();
    this.load().then(() => {
      // Keep focus on the button used, or its partner when it went away.
      const b = step > 0 ? this.#next : this.#prev;
      (b.disabled ? (step > 0 ? this.#prev : this.#next) : b).focus();
    });
  }

  #render() {
    const n = this.#secrets.length;
    if (n === 0) {
      this.#pager.hidden = true;
      const noMatch = this.#q ? t('admin.secrets.noMatch', { q: this.#q }) : '';
      this.#announce.textContent = this.#q ? noMatch : t('admin.secrets.noneYet');
      replaceChildren(this.#results,
        h('div', { class: 'empty' },
          h('p', { class: 'empty-title', text: this.#q ? noMatch : t('admin.secrets.noneYetTitle') }),
          h('p', { text: this.#q ? t('admin.secrets.searchTip') : t('admin.secrets.emptyTip') })));
      return;
    }

    const table = h('table', { role: 'table', class: 'admin-table admin-secrets-table' },
      h('caption', { class: 'visually-hidden',
        text: this.#q ? t('admin.secrets.captionMatching', { q: this.#q }) : t('admin.secrets.caption') }),
      h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' },
        ...Object.values(COLUMNS).map((key) => h('th', { role: 'columnheader', scope: 'col', text: t(key) })))),
      h('tbody', { role: 'rowgroup' }, ...this.#secrets.map((s) => this.#row(s))),
    );
    replaceChildren(this.#results, h('div', { class: 'admin-table-wrap' }, table));

    const first = this.#offset + 1;
    const last = this.#offset + n;
    this.#range.textContent = t('admin.secrets.range', { first, last, total: this.#total });
    this.#announce.textContent = t('admin.secrets.rangeAnnounce', { first, last, total: this.#total });
    this.#prev.disabled = this.#offset === 0;
    this.#next.disabled = last >= this.#total;
    this.#pager.hidden = this.#total <= SECRETS_PAGE_SIZE && this.#offset === 0;
  }

  #row(s) {
    const { host } = this.#ctx;
    const changed = () => this.#ctx.changed();
    const titleId = uid('admin-secret-title');
    const failed = Number.isInteger(s.failedAttempts) ? s.failedAttempts : 0;
    const cell = (column, ...children) => h('td', { role: 'cell', dataset: { label: t(COLUMNS[column]), col: column } }, ...children);
    const tr = h('tr', { role: 'row', class: 'admin-secret', dataset: { id: s.id } });

    const actions = h('div', { class: 'admin-row-actions' });
    if (s.locked || failed > 0) {
      actions.append(button(t('admin.secrets.whoLocked'), {
        'aria-describedby': titleId,
        'aria-expanded': 'false',
        onClick: (e) => this.#showLockouts(s, tr, e.currentTarget),
      }));
      actions.append(button(t('admin.secrets.resetLockout'), {
        'aria-describedby': titleId,
        onClick: () => this.#resetLockout(s, tr),
      }));
    }
    actions.append(button(t('admin.secrets.delete'), {
      kind: 'danger-subtle',
      'aria-describedby': titleId,
      'aria-expanded': 'false',
      onClick: (e) => this.#confirmDelete(s, tr, e.currentTarget),
    }));

    const title = h('div', { class: 'admin-secret-title' }, h('span', { id: titleId, text: s.title || t('admin.secrets.untitled') }));
    if (s.expiresAt) {
      const time = timeElement(s.expiresAt);
      if (time) title.append(h('span', { class: 'admin-sub' }, ...withNodes(t('admin.secrets.deletesItself'), { time })));
    }

    append(tr, [
      cell('title', title),
      cell('location', h('span', { title: s.container || null, text: locationText(s) })),
      cell('createdBy', person(host, s.createdBy, changed)),
      cell('created', timeElement(s.createdAt) || '—'),
      cell('updated', (s.version > 1 && timeElement(s.updatedAt)) || '—'),
      cell('lastUnlocked', timeElement(s.lastUnlockedAt) || h('span', { class: 'admin-none', text: t('admin.secrets.never') })),
      cell('failed', h('span', { class: 'admin-failed' },
        h('span', { class: 'admin-count', text: String(failed) }),
        s.locked ? h('span', { class: 'lozenge lozenge-removed', text: t('admin.secrets.locked') }) : null)),
      cell('actions', actions),
    ]);
    return tr;
  }

  // ---- delete ----------------------------------------------------------

  #confirmDelete(s, tr, opener) {
    this.#closeConfirm();
    const textId = uid('admin-confirm');
    const message = new MessageArea();
    const cancel = () => {
      this.#closeConfirm();
      opener.focus();
    };
    const yes = button(t('admin.secrets.yesDelete'), { kind: 'danger', onClick: () => this.#delete(s, tr, box, message) });
    const box = h('div', { class: 'confirm', role: 'group', 'aria-labelledby': textId },
      h('p', { id: textId, text: t('admin.secrets.confirmDelete', { title: s.title, location: locationText(s) }) }),
      h('div', { class: 'actions' }, yes, button(t('admin.secrets.cancel'), { onClick: cancel })),
      message.el,
    );
    onEscape(box, cancel);
    const row = h('tr', { role: 'row', class: 'admin-confirm-row' },
      h('td', { role: 'cell', colspan: String(COLUMN_COUNT) }, box));
    tr.classList.add('is-confirming');
    opener.setAttribute('aria-expanded', 'true');
    tr.after(row);
    this.#ctx.changed();
    findButton(box, t('admin.secrets.cancel')).focus();
  }

  #closeConfirm() {
    for (const row of this.#results.querySelectorAll('.admin-confirm-row')) {
      const tr = row.previousElementSibling;
      if (tr) {
        tr.classList.remove('is-confirming');
        findButton(tr, t('admin.secrets.delete'))?.setAttribute('aria-expanded', 'false');
      }
      row.remove();
    }
    this.#ctx.changed();
  }

  async #delete(s, tr, box, message) {
    if (this.#busy) return;
    this.#busy = true;
    box.setAttribute('aria-busy', 'true');
    message.clear();
    const index = [...tr.parentElement.querySelectorAll('tr.admin-secret')].indexOf(tr);
    try {
      await this.#ctx.api.deleteSecret(s.id);
      this.#status.show(t('admin.secrets.deleted', { title: s.title }), { tone: 'success', clearAfter: 8000 });
      await this.load({ focusIndex: index });
    } catch (err) {
      if (this.#ctx.failed(err)) return;
      if (err.code === 'not_found') {
        this.#status.show(t('admin.secrets.alreadyDeleted', { title: s.title }), { tone: 'info', clearAfter: 8000 });
        await this.load({ focusIndex: index });
        return;
      }
      message.error(describeError(err));
      this.#ctx.changed();
    } finally {
      this.#busy = false;
      box.removeAttribute('aria-busy');
    }
  }

  // ---- lockouts per user -----------------------------------------------

  // #showLockouts opens a row under the secret listing who failed to unlock
  // it and who is locked out until when, each with its own reset.
  async #showLockouts(s, tr, opener) {
    const open = tr.nextElementSibling && tr.nextElementSibling.classList.contains('admin-lockouts-row');
    if (open) {
      tr.nextElementSibling.remove();
      opener.setAttribute('aria-expanded', 'false');
      this.#ctx.changed();
      return;
    }
    const message = new MessageArea();
    const list = h('ul', { class: 'admin-lockouts' });
    const box = h('div', { class: 'admin-lockouts-box', 'aria-busy': 'true' },
      h('p', { text: t('admin.secrets.failedUnlocks', { title: s.title }) }), list, message.el);
    const row = h('tr', { role: 'row', class: 'admin-lockouts-row' },
      h('td', { role: 'cell', colspan: String(COLUMN_COUNT) }, box));
    tr.after(row);
    opener.setAttribute('aria-expanded', 'true');
    this.#ctx.changed();
    try {
      const lockouts = await this.#ctx.api.lockouts(s.id);
      box.removeAttribute('aria-busy');
      if (lockouts.length === 0) list.append(h('li', { text: t('admin.secrets.nobodyLocked') }));
      for (const l of lockouts) list.append(this.#lockoutItem(s, l, message));
    } catch (err) {
      box.removeAttribute('aria-busy');
      if (this.#ctx.failed(err)) return;
      message.error(describeError(err));
    }
    this.#ctx.changed();
  }

  #lockoutItem(s, l, message) {
    const { host } = this.#ctx;
    const until = l.lockedUntil ? timeElement(l.lockedUntil) : null;
    const state = until
      ? h('span', { class: 'admin-lockout-until' }, ...withNodes(t('admin.secrets.lockedUntil'), { time: until }))
      : h('span', { text: t('admin.secrets.failures', { count: l.failures }) });
    if (l.everyone) {
      return h('li', { class: 'admin-lockout', dataset: { account: '' } },
        h('strong', { text: t('admin.secrets.everyone') }), ' ', state,
        ' ', t('admin.secrets.everyoneWhy'));
    }
    if (!l.accountId) {
      return h('li', { class: 'admin-lockout' }, h('span', { text: t('admin.secrets.someone') }), ' ', state);
    }
    const item = h('li', { class: 'admin-lockout', dataset: { account: l.accountId } },
      person(host, l.accountId, () => this.#ctx.changed()), ' ', state, ' ');
    item.append(button(t('admin.secrets.resetPerson'), {
      onClick: async (e) => {
        const b = e.currentTarget;
        b.disabled = true;
        message.clear();
        try {
          await this.#ctx.api.resetUserLockout(s.id, l.accountId);
          item.replaceChildren(person(host, l.accountId, () => this.#ctx.changed()), ' ', h('span', { text: t('admin.secrets.canTryAgain') }));
          this.#status.show(t('admin.secrets.resetPersonDone', { title: s.title }), { tone: 'success', clearAfter: 8000 });
        } catch (err) {
          b.disabled = false;
          if (this.#ctx.failed(err)) return;
          message.error(describeError(err));
        }
        this.#ctx.changed();
      },
    }));
    return item;
  }

  // ---- reset lockout ---------------------------------------------------

  async #resetLockout(s, tr) {
    if (this.#busy) return;
    this.#busy = true;
    tr.setAttribute('aria-busy', 'true');
    this.#status.clear();
    try {
      await this.#ctx.api.resetLockout(s.id);
      // Update the row in place: the list's order and paging do not change.
      const fresh = { ...s, failedAttempts: 0, locked: false };
      this.#secrets = this.#secrets.map((x) => (x === s ? fresh : x));
      const confirming = tr.classList.contains('is-confirming');
      if (confirming) this.#closeConfirm();
      const row = this.#row(fresh);
      const lockouts = tr.nextElementSibling;
      if (lockouts && lockouts.classList.contains('admin-lockouts-row')) lockouts.remove();
      tr.replaceWith(row);
      this.#status.show(t('admin.secrets.resetDone', { title: s.title }), { tone: 'success', clearAfter: 8000 });
      findButton(row, t('admin.secrets.delete')).focus();
    } catch (err) {
      if (this.#ctx.failed(err)) return;
      if (err.code === 'not_found') {
        this.#status.show(t('admin.secrets.gone', { title: s.title }));
        this.load();
        return;
      }
      this.#status.error(describeError(err));
    } finally {
      this.#busy = false;
      tr.removeAttribute('aria-busy');
      this.#ctx.changed();
    }
  }

  #focusRow(index) {
    const rows = this.#results.querySelectorAll('tr.admin-secret');
    const row = rows[Math.min(index, rows.length - 1)];
    const target = row ? findButton(row, t('admin.secrets.delete')) : null;
    (target || this.#heading).focus();
  }
}
