// Formatting of times and durations.
//
// Relative phrases are English to match the rest of the UI; absolute dates
// and clock times follow the browser's locale, as people read those in their
// own conventions.

import { h } from './dom.js';

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

const UNITS = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/**
 * relativeTime says how far date is from now: "just now", "5 minutes ago",
 * "yesterday", "in 2 hours". Differences under 45 seconds either way are
 * "just now", which also absorbs small clock skew between browser and server.
 */
export function relativeTime(date, now = Date.now()) {
  const seconds = (date.getTime() - now) / 1000;
  if (Math.abs(seconds) < 45) return 'just now';
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size * 0.95 || unit === 'minute') {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return 'just now';
}

/** absoluteTime formats date as a locale date and time ("Mar 4, 2025, 2:05 PM"). */
export function absoluteTime(date) {
  return dateTime.format(date);
}

/** clockTime formats a time of day ("2:05 PM") from epoch milliseconds. */
export function clockTime(ms) {
  return clock.format(new Date(ms));
}

/**
 * waitDuration turns seconds into "N seconds" or, from one minute on,
 * "N minutes" rounded up, so a user never retries too early.
 */
export function waitDuration(seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds) || 0));
  if (s < 60) return plural(s, 'second');
  return plural(Math.ceil(s / 60), 'minute');
}

/** plural returns "1 thing" or "N things". */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * timeElement renders an RFC 3339 timestamp as <time> with a relative text
 * and the absolute date as tooltip. refreshTimes keeps the text current.
 * An unparsable timestamp renders as nothing rather than "Invalid Date".
 */
export function timeElement(iso) {
  const date = new Date(iso);
  if (typeof iso !== 'string' || Number.isNaN(date.getTime())) return null;
  return h('time', {
    datetime: iso,
    title: absoluteTime(date),
    text: relativeTime(date),
  });
}

/** refreshTimes recomputes the relative text of every <time> under root. */
export function refreshTimes(root) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time[datetime]')) {
    const date = new Date(el.dateTime);
    if (!Number.isNaN(date.getTime())) {
      const text = relativeTime(date, now);
      if (el.textContent !== text) el.textContent = text;
    }
  }
}
