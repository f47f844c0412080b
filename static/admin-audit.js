// The "Audit log" part of the admin page: who did what to which secret and
// when, filtered by event, secret, user and dates, paged with "Load more",
// and exported as CSV with the same filters.

import { AUDIT_PAGE_SIZE } from './admin-api.js';
import { EVENT_TYPES, eventLabel, isoDay, loadError, locationText, person, shortId } from './admin-shared.js';
import { append, button, field, h, replaceChildren, uid } from './dom.js';
import { absoluteTime } from './format.js';
import { MessageArea, invalid } from './forms.js';
import { t } from './i18n.js';
import { describeError } from './messages.js';

// The table's columns: a stable name (data-col) and the heading's message.
const COLUMNS = [
  ['time', 'audit.col.time'],
  ['event', 'audit.col.event'],
  ['who', 'audit.col.who'],
  ['secret', 'audit.col.secret'],
  ['location', 'audit.col.location'],
];

// How long a CSV's object URL stays valid after the download starts.
const REVOKE_AFTER_MS = 60 * 1000;

// How many of the site's secrets the secret filter offers (the newest; the
// server pages by at most 100). Secrets named by loaded events are added.
const SECRET_CHOICES = 100;

/**
 * AuditPanel shows the site's audit log.
 *
 * ctx: {api: AdminApi, host: Host, failed(err) → bool, changed()}
 */
export class AuditPanel {
  #ctx;
  #status = new MessageArea('status');
  #type;
  #secret;
  #account;
  #from;
  #to;
  #exportButton;
  #results = h('div', { class: 'admin-results' });
  #tbody = null;
  #footer = h('div', { class: 'admin-footer', hidden: true });
  #announce = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  #applied = {}; // filters of the list on screen: {type, secret, account, from, to}
  #secrets = new Map(); // secret id → title, for the secret filter
  #accounts = new Map(); // account id → display name ('' until known), for the user filter
  #next;
  #count = 0;
  #seq = 0;
  #loaded = false;
  #exporting = false;

  constructor(ctx) {
    this.#ctx = ctx;
    const headingId = uid('admin-audit');

    this.#type = h('select', { class: 'admin-select', name: 'type' },
      h('option', { value: '', text: t('audit.filter.allEvents') }),
      ...EVENT_TYPES.map(([value, text]) => h('option', { value, text })));
    this.#secret = h('select', { class: 'admin-select', name: 'secret' });
    this.#account = h('select', { class: 'admin-select', name: 'account' });
    this.#fillSecrets();
    this.#fillAccounts();
    this.#from = h('input', { type: 'date', class: 'admin-date', name: 'from' });
    this.#to = h('input', { type: 'date', class: 'admin-date', name: 'to' });
    const filters = h('form', { class: 'admin-filters', novalidate: true, 'aria-label': t('audit.filters') },
      field(t('audit.filter.event'), this.#type),
      field(t('audit.filter.secret'), this.#secret),
      field(t('audit.filter.user'), this.#account),
      field(t('audit.filter.from'), this.#from),
      field(t('audit.filter.to'), this.#to),
      h('div', { class: 'admin-filter-actions' },
        button(t('audit.filter.apply'), { type: 'submit' }),
        button(t('audit.filter.reset'), { kind: 'link', onClick: () => this.#reset() })),
    );
    filters.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#apply();
    });
    this.#exportButton = button(t('audit.export'), { onClick: () => this.#export() });

    this.el = h('section', { class: 'admin-section admin-audit', 'aria-labelledby': headingId },
      h('div', { class: 'admin-section-header admin-section-header-row' },
        h('div', {},
          h('h2', { id: headingId, text: t('audit.heading') }),
          h('p', { class: 'admin-intro', text: t('audit.intro') })),
        this.#exportButton),
      filters,
      this.#status.el,
      this.#announce,
      this.#results,
      this.#footer,
    );
  }

  /** show loads the log the first time the section is shown. */
  show() {
    if (!this.#loaded) {
      this.load();
      this.#loadSecrets();
    }
  }

  /** load shows the first page for the applied filters. */
  async load() {
    this.#loaded = true;
    const seq = ++this.#seq;
    this.el.setAttribute('aria-busy', 'true');
    if (!this.#tbody) replaceChildren(this.#results, h('p', { class: 'loading', text: t('audit.loading') }));
    this.#ctx.changed();
    try {
      const page = await this.#ctx.api.audit(this.#applied);
      if (seq !== this.#seq) return;
      this.#count = 0;
      this.#renderTable();
      this.#add(page);
    } catch (err) {
      if (seq !== this.#seq) return;
      if (this.#ctx.failed(err)) return;
      this.#tbody = null;
      this.#footer.hidden = true;
      replaceChildren(this.#results, loadError(err, () => this.load()));
    } finally {
      if (seq === this.#seq) this.el.removeAttribute('aria-busy');
      this.#ctx.changed();
    }
  }

  // #loadSecrets offers the site's newest secrets in the secret filter. A
  // failure only leaves the filter with the secrets the log names.
  async #loadSecrets() {
    try {
      const { secrets } = await this.#ctx.api.listSecrets({ limit: SECRET_CHOICES });
      for (const s of secrets) this.#knowSecret(s && s.id, s && s.title);
      this.#fillSecrets();
    } catch (err) {
      this.#ctx.failed(err);
    }
  }

  #knowSecret(id, title) {
    if (typeof id !== 'string' || !id) return false;
    const name = typeof title === 'string' ? title.trim() : '';
    if (this.#secrets.has(id) && (this.#secrets.get(id) || !name)) return false;
    this.#secrets.set(id, name);
    return true;
  }

  #knowAccount(accountId) {
    if (typeof accountId !== 'string' || !accountId || this.#accounts.has(accountId)) return false;
    const { host } = this.#ctx;
    const known = host.knownName(accountId);
    this.#accounts.set(accountId, known || '');
    if (!known) {
      host.displayName(accountId).then((name) => {
        this.#accounts.set(accountId, typeof name === 'string' ? name : '');
        this.#fillAccounts();
      });
    }
    return true;
  }

  // #fillSecrets and #fillAccounts rebuild a filter's options, sorted by
  // what they show, keeping the choice.
  #fillSecrets() {
    const options = [...this.#secrets].map(([id, title]) => [id, title || id]);
    fillSelect(this.#secret, t('audit.filter.allSecrets'), options);
  }

  #fillAccounts() {
    const options = [...this.#accounts].map(([id, name]) => [id, name && name !== id
      ? t('audit.filter.userOption', { name, accountId: id })
      : id]);
    fillSelect(this.#account, t('audit.filter.allUsers'), options);
    this.#ctx.changed();
  }

  #apply() {
    const type = this.#type.value;
    const from = isoDay(this.#from.value);
    // "To" is the last day wanted; the server's "to" is exclusive.
    const to = isoDay(this.#to.value, 1);
    if (this.#from.value && this.#to.value && this.#from.value > this.#to.value) {
      this.#status.error(t('audit.filter.badRange'));
      invalid(this.#from);
      return;
    }
    this.#status.clear();
    this.#applied = { type, secret: this.#secret.value, account: this.#account.value, from, to };
    this.load();
  }

  #reset() {
    for (const control of [this.#type, this.#secret, this.#account, this.#from, this.#to]) control.value = '';
    this.#apply();
  }

  async #loadMore(moreButton) {
    if (!this.#next) return;
    const seq = ++this.#seq;
    this.el.setAttribute('aria-busy', 'true');
    moreButton.disabled = true;
    const firstNew = this.#count;
    try {
      const page = await this.#ctx.api.audit(this.#applied, { before: this.#next });
      if (seq !== this.#seq) return;
      this.#add(page);
      // Continue reading where the new events start.
      const row = this.#tbody.rows[firstNew];
      if (row) {
        row.tabIndex = -1;
        row.focus();
      }
    } catch (err) {
      if (seq !== this.#seq) return;
      if (this.#ctx.failed(err)) return;
      moreButton.disabled = false;
      this.#status.error(describeError(err));
    } finally {
      if (seq === this.#seq) this.el.removeAttribute('aria-busy');
      this.#ctx.changed();
    }
  }

  #renderTable() {
    this.#tbody = h('tbody', { role: 'rowgroup' });
    const table = h('table', { role: 'table', class: 'admin-table admin-audit-table' },
      h('caption', { class: 'visually-hidden', text: t('audit.caption') }),
      h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' },
        ...COLUMNS.map(([, key]) => h('th', { role: 'columnheader', scope: 'col', text: t(key) })))),
      this.#tbody,
    );
    replaceChildren(this.#results, h('div', { class: 'admin-table-wrap' }, table));
  }

  #add({ events, next }) {
    const { host } = this.#ctx;
    const changed = () => this.#ctx.changed();
    let learned = false;
    for (const ev of events) {
      if (!ev || typeof ev !== 'object') continue;
      // data-label is the column's name shown beside the value on narrow
      // screens, so it is translated; data-col names the column for code.
      const cell = (key, ...children) => h('td', { role: 'cell', dataset: { label: t(key), col: key.slice('audit.col.'.length) } }, ...children);
      const date = new Date(ev.time);
      const time = Number.isNaN(date.getTime())
        ? '—'
        : h('time', { datetime: ev.time, text: absoluteTime(date) });
      this.#tbody.append(append(h('tr', { role: 'row', class: 'admin-event', dataset: { type: String(ev.type || '') } }), [
        cell('audit.col.time', time),
        cell('audit.col.event', h('span', { class: `admin-event-type admin-event-${eventTone(ev.type)}`, text: eventLabel(ev.type) })),
        cell('audit.col.who', person(host, ev.accountId, changed)),
        cell('audit.col.secret', secretCell(ev)),
        cell('audit.col.location', locationCell(ev)),
      ]));
      this.#count += 1;
      learned = this.#knowSecret(ev.secretId, ev.title) || learned;
      this.#knowAccount(ev.accountId);
      this.#knowAccount(ev.subject);
    }
    this.#next = next;
    if (learned) this.#fillSecrets();
    this.#fillAccounts();

    if (this.#count === 0) {
      this.#tbody = null;
      const a = this.#applied;
      const filtered = a.type || a.secret || a.account || a.from || a.to;
      replaceChildren(this.#results,
        h('div', { class: 'empty' },
          h('p', { class: 'empty-title', text: filtered ? t('audit.noMatch') : t('audit.empty') }),
          filtered ? h('p', { text: t('audit.noMatchHint') }) : null));
      this.#footer.hidden = true;
      this.#announce.textContent = filtered ? t('audit.noMatch') : t('audit.emptyAnnounce');
      return;
    }

    const more = next ? button(t('audit.loadMore'), { onClick: (e) => this.#loadMore(e.currentTarget) }) : null;
    const summary = next
      ? t('audit.showingNewest', { count: this.#count })
      : t('audit.showingAll', { count: this.#count });
    replaceChildren(this.#footer, h('span', { class: 'admin-range', text: summary }), more);
    this.#announce.textContent = summary;
    this.#footer.hidden = false;
  }

  // #export downloads the CSV for the applied filters. The API wants the
  // Authorization header, so a plain link cannot do it: the file is fetched,
  // turned into an object URL and saved through a temporary download link.
  async #export() {
    if (this.#exporting) return;
    this.#exporting = true;
    this.#exportButton.setAttribute('aria-busy', 'true');
    this.#exportButton.disabled = true;
    this.#status.show(t('audit.exporting'));
    try {
      const { blob, filename } = await this.#ctx.api.auditCSV(this.#applied);
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: filename, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
      this.#status.show(t('audit.downloaded', { filename }), { tone: 'success', clearAfter: 8000 });
    } catch (err) {
      if (this.#ctx.failed(err)) return;
      this.#status.error(describeError(err));
    } finally {
      this.#exporting = false;
      this.#exportButton.removeAttribute('aria-busy');
      this.#exportButton.disabled = false;
      this.#ctx.changed();
    }
  }
}

// fillSelect replaces a filter's options with "all" and then choices
// ([value, text]) sorted by text; the chosen value stays chosen.
function fillSelect(select, all, choices) {
  const chosen = select.value;
  choices.sort((x, y) => x[1].localeCompare(y[1]));
  replaceChildren(select, h('option', { value: '', text: all }),
    ...choices.map(([value, text]) => h('option', { value, text })));
  select.value = choices.some(([value]) => value === chosen) ? chosen : '';
}

// eventTone groups events for a colour cue: failures and removals stand out.
function eventTone(type) {
  switch (type) {
    case 'unlock_failed':
    case 'locked_out':
      return 'warning';
    case 'deleted':
    case 'admin_deleted':
    case 'expired':
      return 'removed';
    default:
      return 'default';
  }
}

// secretCell names the secret by the title the event recorded, with the id
// in a tooltip; events written before titles were kept show the short id.
function secretCell(ev) {
  const title = typeof ev.title === 'string' ? ev.title.trim() : '';
  if (!title) return shortId(ev.secretId) || '—';
  return h('span', { class: 'admin-secret-name', title: typeof ev.secretId === 'string' ? ev.secretId : null, text: title });
}

// locationCell links the issue or page on the site when the server could
// build the link. Only http(s) links are followed; anything else is text.
function locationCell(ev) {
  const text = locationText(ev);
  const link = typeof ev.link === 'string' ? ev.link : '';
  if (!/^https?:\/\//i.test(link)) return text;
  return h('a', { href: link, target: '_blank', rel: 'noopener noreferrer', text });
}
