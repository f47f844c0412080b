// Pieces shared by the parts of the admin page: people, places, event
// names, error boxes and focus helpers.

import { button, h } from './dom.js';
import { describeError } from './messages.js';

/** FORBIDDEN replaces the whole admin page for anyone who is not a site admin. */
export const FORBIDDEN = 'Only site admins can manage Secrets.';

/** EVENT_TYPES: every audit event type with its wording, in a sensible order. */
export const EVENT_TYPES = [
  ['created', 'Created'],
  ['unlocked', 'Unlocked'],
  ['unlock_failed', 'Unlock failed'],
  ['locked_out', 'Locked out'],
  ['locked', 'Locked'],
  ['edited', 'Edited'],
  ['password_changed', 'Password changed'],
  ['deleted', 'Deleted'],
  ['expired', 'Expired'],
  ['admin_deleted', 'Deleted by an admin'],
  ['lockout_reset', 'Lockout reset'],
  ['policy_changed', 'Policy changed'],
];

const EVENT_LABELS = new Map(EVENT_TYPES);

/** eventLabel words an audit event type; unknown types show as they are. */
export function eventLabel(type) {
  return EVENT_LABELS.get(type) || String(type || 'Unknown event');
}

// What Host.displayName answers when the host cannot name someone. An admin
// is better served by the account id, which Atlassian's user search finds.
const UNNAMED = 'another user';

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
    return h('span', { class: 'person person-system', text: 'Secrets (automatic)' });
  }
  const shown = (name) => (name && name !== UNNAMED ? name : abbreviate(accountId));
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
    button('Try again', { onClick: retry }));
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

/**
 * humanDuration words a number of seconds as the largest units that fit:
 * "10 seconds", "1 hour 30 minutes", "2 days". 0 is "never" when zeroIs says so.
 */
export function humanDuration(seconds, { zeroIs = '0 seconds' } = {}) {
  let s = Math.round(Number(seconds));
  if (!Number.isFinite(s) || s < 0) return '';
  if (s === 0) return zeroIs;
  const units = [['year', 365 * 86400], ['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  const parts = [];
  for (const [unit, size] of units) {
    if (s >= size) {
      const n = Math.floor(s / size);
      s -= n * size;
      parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
