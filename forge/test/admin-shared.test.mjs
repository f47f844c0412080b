// The admin page's shared wording (static/admin-shared.js) in the user's
// language. Run by static/customui_test.go (make test), or by hand:
// node --experimental-detect-module --test forge/test/

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { EVENT_TYPES, eventLabel, humanDuration, withNodes } from '../../static/admin-shared.js';
import { setLocale } from '../../static/i18n.js';

afterEach(() => setLocale('en'));

test('event names are read in the language chosen after the module loaded', () => {
  assert.equal(EVENT_TYPES[0][1], 'Created');
  setLocale('de-DE');
  const [, label] = EVENT_TYPES[0];
  assert.equal(label, 'Erstellt');
  assert.equal(eventLabel('admin_deleted'), 'Von einem Administrator gelöscht');
  assert.equal(eventLabel('no_such_event'), 'no_such_event');
  assert.equal(eventLabel(''), 'Unbekanntes Ereignis');
});

test('policy durations count in the language', () => {
  assert.equal(humanDuration(5400), '1 hour 30 minutes');
  assert.equal(humanDuration(0), '0 seconds');
  assert.equal(humanDuration(0, { zeroIs: 'never' }), 'never');
  setLocale('de');
  assert.equal(humanDuration(5400), '1 Stunde 30 Minuten');
  assert.equal(humanDuration(2 * 86400), '2 Tage');
  assert.equal(humanDuration(0), '0 Sekunden');
});

test('withNodes puts an element where each language wants it', () => {
  const node = { element: true };
  assert.deepEqual(withNodes('Deletes itself {time}', { time: node }), ['Deletes itself ', node]);
  assert.deepEqual(withNodes('Löscht sich {time} selbst', { time: node }), ['Löscht sich ', node, ' selbst']);
  assert.deepEqual(withNodes('no {other} here', { time: node }), ['no {other} here']);
});
