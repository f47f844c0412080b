// What to tell the user about an error.
//
// Codes we understand get our own wording, so the same situation always reads
// the same way; validation errors show the server's sentence, which names the
// rule that was broken (the server's messages are written to be shown).

import { plural, waitDuration } from './format.js';

export const SESSION_EXPIRED = 'Your session expired. Reload the page.';
export const UNLOCK_EXPIRED = 'The unlock expired, so this secret locked itself. Enter the password to unlock it again.';

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
          ? `Wrong password. ${plural(err.attemptsLeft, 'attempt')} left before a temporary lockout.`
          : 'Wrong password. No attempts left: wait a while before trying again.';
      }
      return 'Wrong password.';
    case 'locked':
      return Number.isFinite(err.retryAfter) && err.retryAfter > 0
        ? `Too many attempts. Try again in ${waitDuration(err.retryAfter)}.`
        : 'Too many attempts. Try again later.';
    case 'conflict':
      return 'Someone else changed this secret while you were editing it, so your changes were not saved. Copy them if you need them, then reload to see the current version.';
    case 'unlock_required':
      return UNLOCK_EXPIRED;
    case 'unauthorized':
    case 'session_expired':
      return SESSION_EXPIRED;
    case 'not_found':
      return 'This secret no longer exists. Someone may have deleted it.';
    case 'network':
      return 'Could not reach the server. Check your connection and try again.';
    case 'invalid':
      return server || 'Some of the input is not valid.';
    case 'too_large':
      return server || 'That is too large to save.';
    case 'forbidden':
      return server || 'You are not allowed to do that.';
    case 'licence_inactive':
      return server || "This site's licence for Secrets is not active: secrets can be unlocked, copied and deleted, but not added or changed.";
    case 'unavailable':
      return server || (Number.isFinite(err.retryAfter)
        ? `The service is busy. Try again in ${waitDuration(err.retryAfter)}.`
        : 'The service is busy. Try again in a moment.');
    default:
      return 'Something went wrong on our side. Try again in a moment.';
  }
}
