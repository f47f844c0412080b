// Times and durations in the user's language and zone (static/format.js).
// Run by static/customui_test.go (make test), or by hand:
// node --experimental-detect-module --test forge/test/

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import {
  absoluteTime, clockTime, relativeTime, setTimeZone, timeZone, useHostLocale, validTimeZone, waitDuration,
} from '../../static/format.js';
import { describeError } from '../../static/messages.js';

const NOW = Date.parse('2026-03-04T20:05:00Z');
const ago = (seconds) => new Date(NOW - seconds * 1000);

afterEach(() => useHostLocale('en', 'UTC'));

test('absolute times are in the host zone, which can change the date', () => {
  useHostLocale('de-DE', 'Asia/Tokyo');
  assert.equal(absoluteTime(new Date(NOW)), '05.03.2026, 05:05');
  assert.equal(clockTime(NOW), '05:05');
  useHostLocale('de-DE', 'UTC');
  assert.equal(absoluteTime(new Date(NOW)), '04.03.2026, 20:05');
  useHostLocale('de-DE', 'America/Los_Angeles');
  assert.equal(absoluteTime(new Date(NOW)), '04.03.2026, 12:05');
});

test('absolute times are in the host locale', () => {
  useHostLocale('en-US', 'Europe/Berlin');
  assert.match(absoluteTime(new Date(NOW)), /^Mar 4, 2026, 9:05\s?PM$/);
  useHostLocale('en-GB', 'Europe/Berlin');
  assert.equal(absoluteTime(new Date(NOW)), '4 Mar 2026, 21:05');
});

test('an unknown or malformed zone falls back to the browser zone, never throws', () => {
  const browser = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(NOW));
  for (const tz of ['Nowhere/Atlantis', '../../etc/passwd', '', null, undefined, 42, 'x'.repeat(200)]) {
    assert.doesNotThrow(() => useHostLocale('en', tz), String(tz));
    assert.equal(timeZone(), undefined, String(tz));
    assert.equal(absoluteTime(new Date(NOW)), browser, String(tz));
  }
  assert.equal(validTimeZone('Europe/Berlin'), 'Europe/Berlin');
  assert.equal(setTimeZone('Asia/Tokyo'), 'Asia/Tokyo');
});

test('relative times in English', () => {
  useHostLocale('en-US', 'UTC');
  assert.equal(relativeTime(ago(10), NOW), 'just now');
  assert.equal(relativeTime(ago(-20), NOW), 'just now');
  assert.equal(relativeTime(ago(5 * 60), NOW), '5 minutes ago');
  assert.equal(relativeTime(ago(60), NOW), '1 minute ago');
  assert.equal(relativeTime(ago(24 * 3600), NOW), 'yesterday');
  assert.equal(relativeTime(ago(-2 * 3600), NOW), 'in 2 hours');
});

test('relative times in German', () => {
  useHostLocale('de-DE', 'Europe/Berlin');
  assert.equal(relativeTime(ago(10), NOW), 'gerade eben');
  assert.equal(relativeTime(ago(5 * 60), NOW), 'vor 5 Minuten');
  assert.equal(relativeTime(ago(60), NOW), 'vor 1 Minute');
  assert.equal(relativeTime(ago(24 * 3600), NOW), 'gestern');
  assert.equal(relativeTime(ago(-2 * 3600), NOW), 'in 2 Stunden');
});

test('an unknown locale reads English', () => {
  assert.equal(useHostLocale('xx-YY', 'UTC'), 'en');
  assert.equal(relativeTime(ago(5 * 60), NOW), '5 minutes ago');
  assert.equal(relativeTime(ago(1), NOW), 'just now');
});

test('durations count with the language plurals, rounded up', () => {
  useHostLocale('en', 'UTC');
  assert.equal(waitDuration(1), '1 second');
  assert.equal(waitDuration(0.2), '1 second');
  assert.equal(waitDuration(30), '30 seconds');
  assert.equal(waitDuration(61), '2 minutes');
  assert.equal(waitDuration(60), '1 minute');
  useHostLocale('de-DE', 'UTC');
  assert.equal(waitDuration(1), '1 Sekunde');
  assert.equal(waitDuration(30), '30 Sekunden');
  assert.equal(waitDuration(60), '1 Minute');
  assert.equal(waitDuration(300), '5 Minuten');
});

test('error sentences follow the language', () => {
  useHostLocale('en', 'UTC');
  assert.equal(describeError({ code: 'wrong_password', attemptsLeft: 1 }), 'Wrong password. 1 attempt left before a temporary lockout.');
  assert.equal(describeError({ code: 'locked', retryAfter: 90 }), 'Too many attempts. Try again in 2 minutes.');
  useHostLocale('de-DE', 'UTC');
  assert.equal(describeError({ code: 'wrong_password', attemptsLeft: 3 }), 'Falsches Passwort. Noch 3 Versuche bis zu einer vorübergehenden Sperre.');
  assert.equal(describeError({ code: 'locked', retryAfter: 1 }), 'Zu viele Versuche. Versuchen Sie es in 1 Sekunde erneut.');
  assert.equal(describeError({ code: 'invalid', serverMessage: 'Title is required.' }), 'Title is required.');
  assert.equal(describeError({ code: 'boom' }), 'Bei uns ist etwas schiefgelaufen. Versuchen Sie es gleich noch einmal.');
});
