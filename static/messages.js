// What to tell the user about an error.
//
// Codes we understand get our own wording, so the same situation always reads
// the same way; validation errors show the server's sentence, which names the
// rule that was broken (the server's messages are written to be shown).
// The wording comes from the catalogue (strings-common.js), so it follows
// the user's language; the server's sentences are shown as the server wrote them.

import { waitDuration } from './format.js';
import { t } from './i18n.js';

/**
 * sessionExpired is the sentence for a session that ended. A function, not
 * a constant: the language is chosen after modules load.
 */
export function sessionExpired() {
  return t('common.error.sessionExpired');
}

/** unlockExpired is the sentence for an unlock that ran out while in use. */
export function unlockExpired() {
  return t('common.error.unlockExpired');
}

/**
 * describeError returns a sentence for err (an ApiError or anything else).
 * Unknown errors get a generic sentence: details of a bug are no use to the
 * reader and may not be safe to show.
 */
export function describeError(err) {
  const code = err && err.code;
  const server = (err && err.serverMessage) || '';
  switch (code) {
    case 'wrong_password':
      if (Number.isInteger(err.attemptsLeft)) {
        return err.attemptsLeft > 0
          ? t('common.error.wrongPasswordLeft', { count: err.attemptsLeft })
          : t('common.error.wrongPasswordNoneLeft');
      }
      return t('common.error.wrongPassword');
    case 'locked':
      return Number.isFinite(err.retryAfter) && err.retryAfter > 0
        ? t('common.error.lockedFor', { wait: waitDuration(err.retryAfter) })
        : t('common.error.locked');
    case 'conflict':
      return t('common.error.conflict');
    case 'unlock_required':
      return unlockExpired();
    case 'unauthorized':
    case 'session_expired':
      return sessionExpired();
    case 'not_found':
      return t('common.error.notFound');
    case 'network':
      return t('common.error.network');
    case 'invalid':
      return server || t('common.error.invalid');
    case 'too_large':
      return server || t('common.error.tooLarge');
    case 'forbidden':
      return server || t('common.error.forbidden');
    case 'licence_inactive':
      return server || t('common.error.licenceInactive');
    case 'unavailable':
      return server || (Number.isFinite(err.retryAfter)
        ? t('common.error.unavailableFor', { wait: waitDuration(err.retryAfter) })
        : t('common.error.unavailable'));
    default:
      return t('common.error.internal');
  }
}
