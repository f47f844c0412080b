// Pieces shared by the app's forms: message areas, the password pair with
// its generator and strength hint, action rows and client-side checks.

import { button, describe, field, h, replaceChildren, uid } from './dom.js';
import { MIN_PASSWORD_LENGTH, generatePassword, passwordStrength } from './password.js';
import { t } from './i18n.js';

// Limits the server enforces (pkg/secrets); checked here too so people learn
// about them before a round trip, never instead of the server.
export const MAX_TITLE_CHARS = 200;
export const MAX_CONTENT_BYTES = 128 * 1024;

/**
 * MessageArea is a polite live region for one part of the UI: screen readers
 * announce whatever text it is given. It stays in the DOM between messages,
 * because a live region inserted together with its text is often not read.
 */
export class MessageArea {
  #timer = 0;

  constructor(className = 'message') {
    this.el = h('div', { class: className, role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  }

  /**
   * show displays text. tone: "error" | "success" | "info".
   * action: an optional {label, run} rendered as a button after the text.
   * clearAfter: ms after which a transient message goes away.
   */
  show(text, { tone = 'info', action, clearAfter } = {}) {
    clearTimeout(this.#timer);
    this.el.dataset.tone = tone;
    replaceChildren(
      this.el,
      h('span', { class: 'message-text', text }),
      action ? button(action.label, { kind: 'link', onClick: action.run }) : null,
    );
    if (clearAfter) this.#timer = setTimeout(() => this.clear(), clearAfter);
  }

  /** error shows text as an error. */
  error(text, opts = {}) {
    this.show(text, { ...opts, tone: 'error' });
  }

  /** clear removes the message. */
  clear() {
    clearTimeout(this.#timer);
    this.el.replaceChildren();
    delete this.el.dataset.tone;
  }
}

/**
 * actionRow returns the Save/Cancel row of a form. The submit button is the
 * form's default action, so Enter in a text field saves.
 */
export function actionRow({ submit = 'Save', onCancel }) {
  return h('div', { class: 'actions' },
    button(submit, { kind: 'primary', type: 'submit' }),
    button(t('panel.form.cancel'), { onClick: onCancel }),
  );
}

/**
 * onEscape calls cancel when Escape is pressed inside el, the usual way out
 * of an inline form for keyboard users.
 */
export function onEscape(el, cancel) {
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !e.isComposing) {
      e.preventDefault();
      cancel();
    }
  });
}

/**
 * guardDiscard returns the way out of form that never drops typed input
 * silently: while every field still holds what it held when guardDiscard was
 * called, it calls cancel at once; otherwise it asks in place ("Discard your
 * changes?") and cancels only on "Discard changes". "Keep editing", or
 * asking again (Escape a second time), closes the question and returns the
 * cursor to where it was. Call it once the form holds all its fields.
 */
export function guardDiscard(form, cancel) {
  const valueOf = (el) => (el.type === 'checkbox' ? String(el.checked) : el.value);
  const initial = new Map([...form.querySelectorAll('input, textarea')].map((el) => [el, valueOf(el)]));
  const dirty = () => [...initial].some(([el, v]) => valueOf(el) !== v);
  let box = null;
  let returnTo = null;
  const keep = () => {
    box.remove();
    box = null;
    if (returnTo && returnTo.isConnected) returnTo.focus();
  };
  return () => {
    if (box) {
      keep();
      return;
    }
    if (!dirty()) {
      cancel();
      return;
    }
    returnTo = form.contains(document.activeElement) ? document.activeElement : null;
    const qid = uid('discard');
    const stay = button(t('panel.discard.keep'), { kind: 'primary', onClick: keep });
    box = h('div', { class: 'discard-confirm', role: 'group', 'aria-labelledby': qid },
      h('p', { id: qid, text: t('panel.discard.question') }),
      h('div', { class: 'actions' },
        stay,
        button(t('panel.discard.confirm'), { onClick: () => { box = null; cancel(); } })));
    form.append(box);
    stay.focus();
  };
}

/**
 * textInput builds a single-line text input.
 */
export function textInput(props = {}) {
  return h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...props });
}

/**
 * contentArea builds the monospace textarea for a secret's content.
 * spellcheck is off because spellcheckers may send text to a service.
 */
export function contentArea(value = '') {
  return h('textarea', {
    class: 'content-input',
    rows: '6',
    spellcheck: 'false',
    autocomplete: 'off',
    autocapitalize: 'off',
    value,
  });
}

/**
 * PasswordPair is a new-password field, its confirmation, a "Show password"
 * switch, a generator and a strength hint.
 */
export class PasswordPair {
  #min = MIN_PASSWORD_LENGTH;

  /**
   * @param {string} label "Password" or "New password"
   * @param {{policy?: Promise<{minPasswordLength: number}>}} opts the site's
   *   policy (Api.policy()); until it arrives, and if it cannot be had, the
   *   default minimum applies and the server has the last word.
   */
  constructor(label, { policy } = {}) {
    const pwProps = {
      type: 'password',
      autocomplete: 'new-password',
      spellcheck: 'false',
      autocapitalize: 'off',
      minlength: String(MIN_PASSWORD_LENGTH),
    };
    this.password = h('input', { ...pwProps, id: uid('password') });
    this.confirm = h('input', { ...pwProps });
    this.meter = h('div', { class: 'strength', dataset: { score: '0' }, 'aria-hidden': 'true' },
      h('span', { class: 'strength-bar' }));
    this.hint = h('p', { class: 'hint', text: passwordStrength('', this.#min).text });
    // The site's minimum stays in view while typing, so Save never fails
    // on a rule the form did not state.
    this.minimum = h('p', { class: 'hint password-minimum', text: t('panel.password.minimum', { count: this.#min }) });
    describe(this.password, this.minimum);
    describe(this.password, this.hint);

    this.show = h('input', { type: 'checkbox' });
    const showField = field('Show password', this.show);
    showField.classList.add('field-check');

    const generate = button('Generate password', { onClick: () => this.#generate() });

    // A generated password exists nowhere else: Copy puts it on the
    // clipboard, and Save waits for an explicit "stored elsewhere" tick.
    this.stored = h('input', { type: 'checkbox' });
    const storedField = field(t('panel.generated.stored'), this.stored);
    storedField.classList.add('field-check');
    this.copyStatus = h('p', { class: 'hint', role: 'status' });
    this.keep = h('div', { class: 'generated-keep' },
      button(t('panel.generated.copy'), { onClick: () => this.#copy() }),
      storedField,
      this.copyStatus);
    this.keep.hidden = true;

    this.password.addEventListener('input', () => this.#update());
    this.show.addEventListener('change', () => this.#reveal(this.show.checked));

    this.el = h('div', { class: 'password-pair' },
      h('div', { class: 'field' },
        h('label', { for: this.password.id, text: label }),
        this.minimum,
        this.password,
        this.meter,
        this.hint),
      field('Confirm password', this.confirm),
      h('div', { class: 'password-tools' }, showField, generate),
      this.keep,
    );

    /** ready settles once the site's minimum is applied (or known to be unavailable). */
    this.ready = Promise.resolve(policy).then((p) => {
      if (p && Number.isInteger(p.minPasswordLength) && p.minPasswordLength > 0) this.setMinimum(p.minPasswordLength);
    }, () => {});
  }

  /** setMinimum makes n the shortest password the pair accepts and says so. */
  setMinimum(n) {
    this.#min = n;
    this.password.minLength = n;
    this.confirm.minLength = n;
    this.minimum.textContent = t('panel.password.minimum', { count: n });
    this.#update();
  }

  #generated = '';

  // isGenerated reports whether the field still holds the generated password.
  #isGenerated() {
    return this.#generated !== '' && this.password.value === this.#generated;
  }

  async #copy() {
    const pw = this.password.value;
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(pw);
        ok = true;
      }
    } catch {
      ok = false;
    }
    if (!ok) {
      this.password.focus();
      this.password.select();
    }
    this.copyStatus.textContent = ok ? t('panel.generated.copied') : t('panel.generated.copyBlocked');
  }

  /**
   * check returns a sentence for the first problem and the control to focus,
   * or null when the pair is acceptable.
   */
  check() {
    const pw = this.password.value;
    if ([...pw].length < this.#min) {
      return { message: t('panel.password.tooShort', { count: this.#min }), control: this.password };
    }
    if (pw !== this.confirm.value) {
      return { message: 'The passwords do not match.', control: this.confirm };
    }
    if (this.#isGenerated() && !this.stored.checked) {
      return { message: t('panel.generated.confirmFirst'), control: this.stored };
    }
    return null;
  }

  /** clear empties both fields and hides them again. */
  clear() {
    this.password.value = '';
    this.confirm.value = '';
    this.show.checked = false;
    this.#generated = '';
    this.stored.checked = false;
    this.copyStatus.textContent = '';
    this.#reveal(false);
    this.#update();
  }

  // A generated password is useless unless the person can see it to pass
  // it on, so generating also reveals both fields.
  #generate() {
    const pw = generatePassword();
    this.#generated = pw;
    this.stored.checked = false;
    this.copyStatus.textContent = '';
    this.password.value = pw;
    this.confirm.value = pw;
    this.show.checked = true;
    this.#reveal(true);
    this.#update();
    // Setting .value fires no input event, so drop an earlier error mark here.
    this.password.removeAttribute('aria-invalid');
    this.confirm.removeAttribute('aria-invalid');
    this.password.focus();
    this.password.select();
  }

  #reveal(visible) {
    const type = visible ? 'text' : 'password';
    this.password.type = type;
    this.confirm.type = type;
  }

  #update() {
    const { score, text } = passwordStrength(this.password.value, this.#min);
    this.meter.dataset.score = String(this.password.value ? score : 0);
    this.hint.textContent = text;
    // The copy/confirm step concerns the generated password only.
    this.keep.hidden = !this.#isGenerated();
  }
}

/** checkTitle returns a sentence if title breaks the server's title rule, else "". */
export function checkTitle(title) {
  if (title.trim() === '') return 'Enter a title.';
  if ([...title].length > MAX_TITLE_CHARS) return `The title can have at most ${MAX_TITLE_CHARS} characters.`;
  return '';
}

/** checkContent returns a sentence if content is too large to store, else "". */
export function checkContent(content) {
  if (new TextEncoder().encode(content).length > MAX_CONTENT_BYTES) {
    return `The content can be at most ${MAX_CONTENT_BYTES / 1024} KiB.`;
  }
  return '';
}

/**
 * invalid marks control as invalid until the user edits it, and focuses it.
 */
export function invalid(control) {
  control.setAttribute('aria-invalid', 'true');
  control.addEventListener('input', () => control.removeAttribute('aria-invalid'), { once: true });
  control.focus();
}
