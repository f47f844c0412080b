// The message catalogue: every sentence the browser app shows comes from here.
//
// Catalogues are split by the part of the app that owns them, so a change to
// the admin page never touches the panel's strings: strings-common.js (errors,
// times, words several views share), strings-panel.js (issue panel and macro),
// strings-admin.js (the admin page) and strings-audit.js (its audit log). Each
// exports { en: {...}, de: {...} }; keys are namespaced by owner ("common.",
// "panel.", "admin.", "audit.") so they never collide. English is the
// reference: a key missing from another language falls
// back to English, and a key missing from English renders as the key itself,
// which a test (forge/test/i18n.test.mjs) forbids for every key the code uses.
//
// A message is a string with {name} placeholders, or, when it depends on a
// count, an object of Intl.PluralRules categories ({one: '…', other: '…'})
// chosen by params.count.

import common from './strings-common.js';
import panel from './strings-panel.js';
import admin from './strings-admin.js';
import audit from './strings-audit.js';

/** LOCALES are the languages shipped complete; English is the fallback. */
export const LOCALES = ['en', 'de'];

const catalogues = {};
for (const lang of LOCALES) {
  catalogues[lang] = Object.assign({}, common[lang], panel[lang], admin[lang], audit[lang]);
}

let current = 'en';
let tag = 'en';
let pluralRules = new Intl.PluralRules('en');

/**
 * setLocale chooses the language from a host locale ("de-DE", "de_DE", "de").
 * An unknown or empty locale keeps English. It returns the BCP 47 tag now in
 * use, for Intl formatters.
 */
export function setLocale(loc) {
  const normal = String(loc || '').replace('_', '-');
  const lang = normal.split('-')[0].toLowerCase();
  current = LOCALES.includes(lang) ? lang : 'en';
  try {
    tag = normal && current === lang ? Intl.getCanonicalLocales(normal)[0] : current;
  } catch {
    tag = current;
  }
  pluralRules = new Intl.PluralRules(tag);
  for (const fn of listeners) fn(tag);
  return tag;
}

const listeners = [];

/**
 * onLocale registers fn(tag) to run after every setLocale, so modules that
 * keep Intl formatters (format.js) rebuild them in the new language.
 */
export function onLocale(fn) {
  listeners.push(fn);
}

/** locale returns the BCP 47 tag in use ("en", "de-DE"). */
export function locale() {
  return tag;
}

/** language returns the catalogue language in use ("en" or "de"). */
export function language() {
  return current;
}

function lookup(lang, key) {
  const c = catalogues[lang];
  return c && Object.prototype.hasOwnProperty.call(c, key) ? c[key] : undefined;
}

/**
 * t returns the message for key in the current language with {name}
 * placeholders replaced from params. Missing in the current language: the
 * English message; missing in English too: the key, so a gap is visible.
 */
export function t(key, params = {}) {
  let msg = lookup(current, key);
  if (msg === undefined) msg = lookup('en', key);
  if (msg === undefined) return key;
  if (typeof msg === 'object') {
    const n = Number(params.count);
    const cat = pluralRules.select(Number.isFinite(n) ? n : 0);
    msg = msg[cat] ?? msg.other ?? '';
  }
  return msg.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** keys returns every key of a language's catalogue (for tests). */
export function keys(lang) {
  return Object.keys(catalogues[lang] || {});
}
