// The "New secret" form.

import { h, replaceChildren, uid, wipe } from './dom.js';
import {
  MAX_TITLE_CHARS, MessageArea, PasswordPair, actionRow, checkContent, checkTitle, contentArea, guardDiscard, invalid,
  onEscape,
  textInput,
} from './forms.js';
import { describeError } from './messages.js';
import { t } from './i18n.js';

const DAY = 24 * 60 * 60;

// expiryLabel names an expiry choice of the site policy (seconds; 0: never).
function expiryLabel(seconds) {
  if (seconds === 0) return t('panel.expiry.never');
  if (seconds % DAY === 0) return t('panel.expiry.days', { count: seconds / DAY });
  return t('panel.expiry.hours', { count: Math.round(seconds / 3600) });
}

/**
 * AddForm collects title, password and content and creates the secret.
 *
 * opts: {
 *   api: Api,
 *   created(meta): the secret was stored,
 *   cancelled(): the user closed the form,
 *   failed(error): an error that concerns the whole app (expired session),
 *   changed(): the form's size changed,
 * }
 */
export class AddForm {
  #opts;
  #busy = false;
  #message = new MessageArea();
  #policy;

  constructor(opts) {
    this.#opts = opts;
    const headingId = uid('add-heading');
    this.title = textInput({ id: uid('title'), maxlength: String(MAX_TITLE_CHARS), required: true });
    // The site's policy sets the minimum password length and the expiry
    // choices; Save waits for it, so no rule the form did not show fails.
    this.#policy = opts.api.policy().catch(() => null);
    this.pair = new PasswordPair('Password', { policy: this.#policy });
    this.content = contentArea();
    this.content.id = uid('content');
    this.expiry = h('select', { id: uid('expiry') });
    this.expiryField = h('div', { class: 'field' },
      h('label', { for: this.expiry.id, text: t('panel.expiry.label') }),
      this.expiry);
    // Hidden until the policy names the choices; without it the site's
    // default applies, which the server knows.
    this.expiryField.hidden = true;
    this.#policy.then((p) => this.#offerExpiry(p));

    this.el = h('form', { class: 'add-form', novalidate: true, 'aria-labelledby': headingId },
      h('h2', { id: headingId, text: 'New secret' }),
      h('p', { class: 'form-intro' },
        'Everyone who can see this page sees the title. Only people who know the password can read the content.'),
      h('div', { class: 'field' },
        h('label', { for: this.title.id, text: 'Title' }),
        this.title),
      this.pair.el,
      h('div', { class: 'field' },
        h('label', { for: this.content.id, text: 'Content' }),
        this.content),
      this.expiryField,
      actionRow({ onCancel: () => ask() }),
      this.#message.el,
    );
    // Cancel and Escape ask before dropping anything typed.
    const ask = guardDiscard(this.el, () => this.#cancel());
    onEscape(this.el, ask);
    this.el.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#submit();
    });
  }

  // offerExpiry fills the expiry choice from the policy, the site's default
  // selected.
  #offerExpiry(p) {
    const choices = p && Array.isArray(p.expiryChoicesSeconds)
      ? p.expiryChoicesSeconds.filter((s) => Number.isInteger(s) && s >= 0) : [];
    if (choices.length === 0) return;
    replaceChildren(this.expiry, ...choices.map((s) => h('option', { value: String(s), text: expiryLabel(s) })));
    const def = String(p.defaultExpirySeconds || 0);
    if (choices.map(String).includes(def)) this.expiry.value = def;
    this.expiryField.hidden = false;
    this.#opts.changed();
  }

  /** focus puts the cursor in the first field. */
  focus() {
    this.title.focus();
  }

  /** dispose clears every field before the form leaves the page. */
  dispose() {
    this.pair.clear();
    wipe(this.el);
  }

  #cancel() {
    this.dispose();
    this.#opts.cancelled();
  }

  async #submit() {
    if (this.#busy) return;
    this.#busy = true;
    await this.pair.ready;
    this.#busy = false;
    const problem = this.#check();
    if (problem) {
      this.#message.error(problem.message);
      invalid(problem.control);
      this.#opts.changed();
      return;
    }
    this.#busy = true;
    this.el.setAttribute('aria-busy', 'true');
    this.#message.clear();
    try {
      const meta = await this.#opts.api.createSecret({
        title: this.title.value,
        content: this.content.value,
        password: this.pair.password.value,
        expiresAt: this.#expiresAt(),
      });
      this.dispose();
      this.#opts.created(meta);
    } catch (err) {
      this.#message.error(describeError(err));
      this.#opts.failed(err);
      this.#opts.changed();
    } finally {
      this.#busy = false;
      this.el.removeAttribute('aria-busy');
    }
  }

  // expiresAt is the chosen expiry as a time, or undefined for never (or
  // when no choice was offered).
  #expiresAt() {
    if (this.expiryField.hidden) return undefined;
    const s = Number(this.expiry.value);
    return s > 0 ? new Date(Date.now() + s * 1000) : undefined;
  }

  #check() {
    const titleProblem = checkTitle(this.title.value);
    if (titleProblem) return { message: titleProblem, control: this.title };
    const pairProblem = this.pair.check();
    if (pairProblem) return pairProblem;
    const contentProblem = checkContent(this.content.value);
    if (contentProblem) return { message: contentProblem, control: this.content };
    return null;
  }
}
