// Password generation and a rough strength hint.

import { t } from './i18n.js';

/**
 * MIN_PASSWORD_LENGTH mirrors the server's default policy. Forms use the
 * site's own minimum (GET /api/policy) once it is known; the server has the
 * last word.
 */
export const MIN_PASSWORD_LENGTH = 8;

/** GENERATED_LENGTH: 20 characters from ALPHABET carry about 123 bits. */
export const GENERATED_LENGTH = 20;

// Letters and digits people confuse when reading a password aloud or off a
// screen (l/1/I, O/0) are left out; the symbols are ones that survive being
// pasted into shells, URLs and spreadsheets without quoting surprises.
const ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#$%&*+-=?@^_~';

/**
 * generatePassword returns a random password from a CSPRNG. Bytes that would
 * bias the choice (the tail of 0–255 past the largest multiple of the
 * alphabet size) are rejected rather than reduced modulo.
 */
export function generatePassword(length = GENERATED_LENGTH) {
  const n = ALPHABET.length;
  const limit = 256 - (256 % n);
  const out = [];
  const buf = new Uint8Array(length * 2);
  while (out.length < length) {
    crypto.getRandomValues(buf);
    for (const b of buf) {
      if (b < limit) out.push(ALPHABET[b % n]);
      if (out.length === length) break;
    }
  }
  return out.join('');
}

const COMMON = new Set([
  'password', 'password1', 'passw0rd', '12345678', '123456789', '1234567890',
  'qwertyuiop', 'qwerty123', 'iloveyou', 'letmein1', 'welcome1', 'admin123',
  'abc12345', 'changeme', 'secret123', 'football', 'baseball', 'sunshine',
]);

/**
 * passwordStrength estimates strength for a hint, not a gate: length times
 * the bits per character of the character classes used, discounted for
 * repetition, sequences and very common passwords.
 *
 * @returns {{score: 0|1|2|3|4, text: string}} score 0 is "too short"
 */
export function passwordStrength(password, min = MIN_PASSWORD_LENGTH) {
  const chars = [...password];
  if (chars.length === 0) return { score: 0, text: t('panel.strength.empty', { count: min }) };
  if (chars.length < min) {
    return { score: 0, text: t('panel.strength.short', { count: min }) };
  }
  let pool = 0;
  if (/[a-z]/.test(password)) pool += 26;
  if (/[A-Z]/.test(password)) pool += 26;
  if (/[0-9]/.test(password)) pool += 10;
  if (/[^a-zA-Z0-9]/.test(password)) pool += 33;
  let bits = chars.length * Math.log2(Math.max(pool, 2));
  const unique = new Set(chars).size;
  if (unique <= 2) bits = Math.min(bits, 10);
  else if (unique < chars.length / 2) bits *= 0.6;
  if (isSequence(password)) bits = Math.min(bits, 20);
  if (COMMON.has(password.toLowerCase())) bits = Math.min(bits, 10);

  if (bits < 40) return { score: 1, text: t('panel.strength.weak') };
  if (bits < 60) return { score: 2, text: t('panel.strength.fair') };
  if (bits < 80) return { score: 3, text: t('panel.strength.good') };
  return { score: 4, text: t('panel.strength.strong') };
}

// isSequence spots runs such as "abcdefgh" or "87654321".
function isSequence(s) {
  if (s.length < 3) return false;
  const step = s.charCodeAt(1) - s.charCodeAt(0);
  if (Math.abs(step) !== 1) return false;
  for (let i = 2; i < s.length; i++) {
    if (s.charCodeAt(i) - s.charCodeAt(i - 1) !== step) return false;
  }
  return true;
}
