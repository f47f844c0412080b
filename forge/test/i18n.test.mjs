// The message catalogue (static/i18n.js). Run by static/customui_test.go
// (make test), or by hand: node --experimental-detect-module --test forge/test/

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

import { keys, LOCALES, setLocale, t } from '../../static/i18n.js';

const staticDir = new URL('../../static/', import.meta.url);

test('every shipped language has exactly the English keys', () => {
  const en = keys('en').sort();
  for (const lang of LOCALES) {
    assert.deepEqual(keys(lang).sort(), en, `catalogue ${lang}`);
  }
});

test('every key the code uses exists in English', () => {
  const used = new Set();
  for (const name of readdirSync(staticDir)) {
    if (!name.endsWith('.js') || name.startsWith('strings-')) continue;
    const src = readFileSync(new URL(name, staticDir), 'utf8');
    for (const m of src.matchAll(/\bt\(\s*'([a-z]+\.[\w.]+)'/g)) used.add(m[1]);
  }
  const en = new Set(keys('en'));
  const missing = [...used].filter((k) => !en.has(k));
  assert.deepEqual(missing, []);
});

test('unknown locales fall back to English; placeholders are filled', () => {
  assert.equal(setLocale('xx-YY'), 'en');
  assert.equal(t('no.such.key'), 'no.such.key');
  assert.equal(setLocale('de_DE'), 'de-DE');
  setLocale('en');
});
