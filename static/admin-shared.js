// Pieces shared by the parts of the admin page: people, places, event
// names, error boxes and focus helpers.

import { button, h } from './dom.js';
import { t } from './i18n.js';
import { describeError } from './messages.js';

// The audit event types in a sensible order, each with the catalogue key
// of its wording. The wording is looked up when used, not when this module
// loads: the language is chosen after that (app.js).
const EVENT_WORDS = [
  ['created', 'admin.event.created'],
  ['unlocked', 'admin.event.unlocked'],
  ['unlock_failed', 'admin.event.unlock_failed'],
  ['locked_out', 'admin.event.locked_out'],
  ['locked', 'admin.event.locked'],
  ['edited', 'admin.event.edited'],
  ['password_changed', 'admin.event.password_changed'],
  ['deleted', 'admin.event.deleted'],
  ['expired', 'admin.event.expired'],
  ['admin_deleted', 'admin.event.admin_deleted'],
  ['lockout_reset', 'admin.event.lockout_reset'],
  ['policy_changed', 'admin.event.policy_changed'],
];

/**
 * EVENT_TYPES: every audit event type with its wording, as [type, label]
 * pairs. The label is a getter, so a list built after setLocale reads in
 * the user's language.
 */
export const EVENT_TYPES = EVENT_WORDS.map(([type, key]) => {
  const pair = [type];
  Object.defineProperty(pair, 1, { get: () => t(key), enumerable: true });
  return Object.freeze(pair);
});

const EVENT_LABELS = new Map(EVENT_WORDS);

/** eventLabel words an audit event type; unknown types show as they are. */
export function eventLabel(type) {
  const key = EVENT_LABELS.get(type);
  return key ? t(key) : String(type || t('admin.event.unknown'));
}

// What Host.displayName answers when the host cannot name someone. An admin
// is better served by the account id, which Atlassian's user search finds.
// What host.js names someone it could not look up, in the current language.
const unnamed = () => t('panel.person.another');

/**
 * person renders who did something: "you", a display name from the host
 * (filled in when the lookup answers), or the account id when the host
 * cannot name them. No account id means the app itself did it.
 *
 * @param {import('./host.js').Host} host
 * @param {string} accountId
 * @param {() => void} changed called when a name arrives (for resizing)
 */
export function person(host, accountId, changed) {
  if (!accountId || typeof accountId !== 'string') {
    return h('span', { class: 'person person-system', text: t('admin.person.system') });
  }
  const shown = (name) => (name && name !== unnamed() ? name : abbreviate(accountId));
  const known = host.knownName(accountId);
  const el = h('span', { class: 'person', title: accountId, text: known ? shown(known) : abbreviate(accountId) });
  if (!known) {
    el.classList.add('person-pending');
    host.displayName(accountId).then((name) => {
      el.textContent = shown(name);
      el.classList.remove('person-pending');
      changed();
    });
  }
  return el;
}

// abbreviate shortens a long account id for display; the whole id stays in
// the element's tooltip and in the CSV export.
function abbreviate(accountId) {
  return accountId.length > 16 ? `${accountId.slice(0, 12)}…` : accountId;
}

/** locationText names where a secret lives: the issue key or page, else the raw container. */
export function locationText(item) {
  const loc = item && typeof item.location === 'string' ? item.location.trim() : '';
  if (loc) return loc;
  const ctr = item && typeof item.container === 'string' ? item.container : '';
  return ctr || '—';
}

/** shortId shows the first 8 characters of an id; the whole id goes in a tooltip. */
export function shortId(id) {
  if (!id || typeof id !== 'string') return null;
  return h('code', { class: 'short-id', title: id, text: id.length > 8 ? `${id.slice(0, 8)}…` : id });
}

/** loadError is the box shown when a list could not be loaded, with a retry. */
export function loadError(err, retry) {
  return h('div', { class: 'load-error' },
    h('p', { text: describeError(err) }),
    button(t('admin.load.retry'), { onClick: retry }));
}

/**
 * withNodes fills a message's {name} placeholders with DOM nodes, for
 * sentences around an element ("Deletes itself {time}"): it returns the
 * pieces for h() or append, so each language places the element itself.
 */
export function withNodes(message, nodes) {
  const out = [];
  let last = 0;
  for (const m of message.matchAll(/\{(\w+)\}/g)) {
    if (!(m[1] in nodes)) continue;
    if (m.index > last) out.push(message.slice(last, m.index));
    out.push(nodes[m[1]]);
    last = m.index + m[0].length;
  }
  if (last < message.length) out.push(message.slice(last));
  return out;
}

/** findButton returns the first button under root whose text is text. */
export function findButton(root, text) {
  if (!root) return null;
  for (const b of root.querySelectorAll('button')) {
    if (b.textContent === text) return b;
  }
  return null;
}

/**
 * isoDay turns a date input's "YYYY-MM-DD" into the RFC 3339 time of that
 * day's local midnight, plus addDays; "" for an empty or malformed value.
 */
export function isoDay(value, addDays = 0) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || '');
  if (!m) return '';
  const date = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + addDays);
  if (Number.isNaN(date.getTime())) return '';
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// DURATION_UNITS: seconds per unit and the catalogue key that counts them.
const DURATION_UNITS = [
  [365 * 86400, 'common.duration.years'],
  [86400, 'common.duration.days'],
  [3600, 'common.duration.hours'],
  [60, 'common.duration.minutes'],
  [1, 'common.duration.seconds'],
];

/**
 * humanDuration words a number of seconds as the largest units that fit:
 * "10 seconds", "1 hour 30 minutes", "2 days". 0 is zeroIs ("0 seconds"
 * unless the caller says e.g. "never").
 */
export function humanDuration(seconds, { zeroIs } = {}) {
  let s = Math.round(Number(seconds));
  if (!Number.isFinite(s) || s < 0) return '';
  if (s === 0) return zeroIs ?? t('common.duration.seconds', { count: 0 });
  const parts = [];
  for (const [size, key] of DURATION_UNITS) {
    if (s >= size) {
      const n = Math.floor(s / size);
      s -= n * size;
      parts.push(t(key, { count: n }));
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
