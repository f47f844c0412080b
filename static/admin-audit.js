// The "Audit log" part of the admin page: who did what to which secret and
// when, filtered by event and dates, paged with "Load more", and exported
// as CSV with the same filters.

import { AUDIT_PAGE_SIZE } from './admin-api.js';
import { EVENT_TYPES, eventLabel, isoDay, loadError, locationText, person, shortId } from './admin-shared.js';
import { append, button, field, h, replaceChildren, uid } from './dom.js';
import { absoluteTime, plural } from './format.js';
import { MessageArea, invalid } from './forms.js';
import { describeError } from './messages.js';

const COLUMNS = ['Time', 'Event', 'Who', 'Secret', 'Location'];

// How long a CSV's object URL stays valid after the download starts.
const REVOKE_AFTER_MS = 60 * 1000;

/**
 * AuditPanel shows the site's audit log.
 *
 * ctx: {api: AdminApi, host: Host, failed(err) → bool, changed()}
 */
export class AuditPanel {
  #ctx;
  #status = new MessageArea('status');
  #type;
  #from;
  #to;
  #exportButton;
  #results = h('div', { class: 'admin-results' });
  #tbody = null;
  #footer = h('div', { class: 'admin-footer', hidden: true });
  #announce = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  #applied = {}; // filters of the list on screen: {type, from, to}
  #next;
  #count = 0;
  #seq = 0;
  #loaded = false;
  #exporting = false;

  constructor(ctx) {
    this.#ctx = ctx;
    const headingId = uid('admin-audit');

    this.#type = h('select', { class: 'admin-select' },
      h('option', { value: '', text: 'All events' }),
      ...EVENT_TYPES.map(([value, text]) => h('option', { value, text })));
    this.#from = h('input', { type: 'date', class: 'admin-date' });
    this.#to = h('input', { type: 'date', class: 'admin-date' });
    const filters = h('form', { class: 'admin-filters', novalidate: true, 'aria-label': 'Audit log filters' },
      field('Event', this.#type),
      field('From', this.#from),
      field('To', this.#to),
      h('div', { class: 'admin-filter-actions' }, button('Apply', { type: 'submit' })),
    );
    filters.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#apply();
    });
    this.#exportButton = button('Export CSV', { onClick: () => this.#export() });

    this.el = h('section', { class: 'admin-section admin-audit', 'aria-labelledby': headingId },
      h('div', { class: 'admin-section-header admin-section-header-row' },
        h('div', {},
          h('h2', { id: headingId, text: 'Audit log' }),
          h('p', { class: 'admin-intro', text: 'What happened to secrets on this site, newest first. '
            + 'Passwords and content are never recorded.' })),
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
    if (!this.#loaded) this.load();
  }

  /** load shows the first page for the applied filters. */
  async load() {
    this.#loaded = true;
    const seq = ++this.#seq;
    this.el.setAttribute('aria-busy', 'true');
    if (!this.#tbody) replaceChildren(this.#results, h('p', { class: 'loading', text: 'Loading the audit log…' }));
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

  #apply() {
    const type = this.#type.value;
    const from = isoDay(this.#from.value);
    // "To" is the last day wanted; the server's "to" is exclusive.
    const to = isoDay(this.#to.value, 1);
    if (this.#from.value && this.#to.value && this.#from.value > this.#to.value) {
      this.#status.error('“From” must be on or before “To”.');
      invalid(this.#from);
      return;
    }
    this.#status.clear();
    this.#applied = { type, from, to };
    this.load();
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
      h('caption', { class: 'visually-hidden', text: 'Audit events' }),
      h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' },
        ...COLUMNS.map((c) => h('th', { role: 'columnheader', scope: 'col', text: c })))),
      this.#tbody,
    );
    replaceChildren(this.#results, h('div', { class: 'admin-table-wrap' }, table));
  }

  #add({ events, next }) {
    const { host } = this.#ctx;
    const changed = () => this.#ctx.changed();
    for (const ev of events) {
      if (!ev || typeof ev !== 'object') continue;
      const cell = (label, ...children) => h('td', { role: 'cell', dataset: { label } }, ...children);
      const date = new Date(ev.time);
      const time = Number.isNaN(date.getTime())
        ? '—'
        : h('time', { datetime: ev.time, text: absoluteTime(date) });
      this.#tbody.append(append(h('tr', { role: 'row', class: 'admin-event', dataset: { type: String(ev.type || '') } }), [
        cell('Time', time),
        cell('Event', h('span', { class: `admin-event-type admin-event-${eventTone(ev.type)}`, text: eventLabel(ev.type) })),
        cell('Who', person(host, ev.accountId, changed)),
        cell('Secret', secretCell(ev)),
        cell('Location', locationCell(ev)),
      ]));
      this.#count += 1;
    }
    this.#next = next;

    if (this.#count === 0) {
      this.#tbody = null;
      const filtered = this.#applied.type || this.#applied.from || this.#applied.to;
      replaceChildren(this.#results,
        h('div', { class: 'empty' },
          h('p', { class: 'empty-title', text: filtered ? 'No events match these filters.' : 'No events yet' }),
          filtered ? h('p', { text: 'Choose another event or widen the dates, then Apply.' }) : null));
      this.#footer.hidden = true;
      this.#announce.textContent = filtered ? 'No events match these filters.' : 'No events yet.';
      return;
    }

    const more = next ? button('Load more', { onClick: (e) => this.#loadMore(e.currentTarget) }) : null;
    const summary = next
      ? `Showing the newest ${plural(this.#count, 'event')}.`
      : `Showing all ${plural(this.#count, 'event')}.`;
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
    this.#status.show('Preparing the CSV file…');
    try {
      const { blob, filename } = await this.#ctx.api.auditCSV(this.#applied);
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: filename, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
      this.#status.show(`Downloaded ${filename}.`, { tone: 'success', clearAfter: 8000 });
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
