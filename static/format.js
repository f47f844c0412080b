// Formatting of times and durations, in the user's language and time zone.
//
// The host says both (Connect: the loc and tz URL parameters; Forge: the
// context's locale and timezone). Relative phrases ("5 minutes ago",
// "yesterday") come from Intl.RelativeTimeFormat in the catalogue's
// language, so they read like the rest of the UI; absolute dates and clock
// times use the same locale and the host's time zone, which is what the
// user set in Jira or Confluence. A zone the browser does not know falls
// back to the browser's own zone rather than breaking the page.

import { h } from './dom.js';
import { locale, onLocale, setLocale, t } from './i18n.js';

let zone; // undefined: the browser's zone
let relative;
let dateTime;
let clock;

// build makes the formatters for the current locale and zone. They are
// kept, not made per call: a list of many timestamps formats them often.
function build() {
  const tag = locale();
  relative = new Intl.RelativeTimeFormat(tag, { numeric: 'auto' });
  dateTime = new Intl.DateTimeFormat(tag, { dateStyle: 'medium', timeStyle: 'short', timeZone: zone });
  clock = new Intl.DateTimeFormat(tag, { timeStyle: 'short', timeZone: zone });
}
build();
onLocale(build);

/**
 * validTimeZone returns tz when the browser knows it as a time zone
 * ("Europe/Berlin", "UTC"), else undefined (the browser's own zone).
 */
export function validTimeZone(tz) {
  if (typeof tz !== 'string' || tz === '' || tz.length > 64) return undefined;
  try {
    return new Intl.DateTimeFormat('en', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * setTimeZone makes absolute times use tz; an empty or unknown zone means
 * the browser's zone. It returns the zone now in use (undefined: the browser's).
 */
export function setTimeZone(tz) {
  zone = validTimeZone(tz);
  build();
  return zone;
}

/** timeZone returns the zone absolute times use, or undefined for the browser's. */
export function timeZone() {
  return zone;
}

/**
 * useHostLocale applies what the host says about the user before anything
 * renders: the catalogue language, the time zone and <html lang>. It
 * returns the BCP 47 tag in use.
 */
export function useHostLocale(loc, tz) {
  const tag = setLocale(loc);
  setTimeZone(tz);
  if (typeof document !== 'undefined' && document.documentElement) document.documentElement.lang = tag;
  return tag;
}

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
  if (Math.abs(seconds) < 45) return t('common.time.justNow');
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size * 0.95 || unit === 'minute') {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return t('common.time.justNow');
}

/** absoluteTime formats date as a date and time in the user's locale and zone ("Mar 4, 2025, 2:05 PM"). */
export function absoluteTime(date) {
  return dateTime.format(date);
}

/** clockTime formats a time of day ("2:05 PM") from epoch milliseconds, in the user's zone. */
export function clockTime(ms) {
  return clock.format(new Date(ms));
}

/**
 * waitDuration turns seconds into "N seconds" or, from one minute on,
 * "N minutes" rounded up, so a user never retries too early.
 */
export function waitDuration(seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds) || 0));
  if (s < 60) return t('common.duration.seconds', { count: s });
  return t('common.duration.minutes', { count: Math.ceil(s / 60) });
}

/**
 * plural returns "1 thing" or "N things". English only: kept for callers
 * not yet on the catalogue, whose plural messages are the way to count.
 */
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
