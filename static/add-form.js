// The "New secret" form.

import { h, uid, wipe } from './dom.js';
import {
  ExpiryChoice, MAX_TITLE_CHARS, MessageArea, PasswordPair, actionRow, checkContent, checkTitle, contentArea,
  guardDiscard, invalid, onEscape, textInput,
} from './forms.js';
import { describeError } from './messages.js';
import { t } from './i18n.js';

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
    this.pair = new PasswordPair(t('panel.form.password'), { policy: this.#policy });
    this.content = contentArea();
    this.content.id = uid('content');
    // Hidden until the policy names the choices; without it the site's
    // default applies, which the server knows.
    this.expiry = new ExpiryChoice({ policy: this.#policy, changed: () => this.#opts.changed() });

    this.el = h('form', { class: 'add-form', novalidate: true, 'aria-labelledby': headingId },
      h('h2', { id: headingId, text: t('panel.add.heading') }),
      h('p', { class: 'form-intro' }, t('panel.add.intro')),
      h('div', { class: 'field' },
        h('label', { for: this.title.id, text: t('panel.form.title') }),
        this.title),
      this.pair.el,
      h('div', { class: 'field' },
        h('label', { for: this.content.id, text: t('panel.form.content') }),
        this.content),
      this.expiry.el,
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
      invalid(problem.control, problem.message);
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
        expiresAt: this.expiry.value(),
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
