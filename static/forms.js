// Pieces shared by the app's forms: message areas, the password pair with
// its generator and strength hint, action rows and client-side checks.

import { button, describe, field, h, replaceChildren, uid } from './dom.js';
import { absoluteTime } from './format.js';
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
export function actionRow({ submit = t('panel.form.save'), onCancel }) {
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
    const showField = field(t('panel.password.show'), this.show);
    showField.classList.add('field-check');

    const generate = button(t('panel.password.generate'), { onClick: () => this.#generate() });

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
      field(t('panel.password.confirm'), this.confirm),
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
      return { message: t('panel.password.mismatch'), control: this.confirm };
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
    clearFieldError(this.password);
    clearFieldError(this.confirm);
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
  if (title.trim() === '') return t('panel.title.empty');
  if ([...title].length > MAX_TITLE_CHARS) return t('panel.title.tooLong', { count: MAX_TITLE_CHARS });
  return '';
}

/** checkContent returns a sentence if content is too large to store, else "". */
export function checkContent(content) {
  if (new TextEncoder().encode(content).length > MAX_CONTENT_BYTES) {
    return t('panel.content.tooLarge', { count: MAX_CONTENT_BYTES / 1024 });
  }
  return '';
}

/**
 * invalid marks control as invalid until the user edits it, and focuses it.
 * With a message, the sentence also shows right under the control's field
 * (see fieldError), so the error sits next to what it is about.
 */
export function invalid(control, message) {
  if (message) {
    fieldError(control, message);
  } else {
    control.setAttribute('aria-invalid', 'true');
    control.addEventListener('input', () => clearFieldError(control), { once: true });
  }
  control.focus();
}

/**
 * fieldError shows message under control (at the end of its .field), marks
 * control aria-invalid and names the message in its aria-describedby, so a
 * screen reader reads the error with the field. Editing the field, or
 * clearFieldError, takes both away again.
 */
export function fieldError(control, message) {
  clearFieldError(control);
  const box = control.closest('.field') || control.parentElement;
  const el = h('p', { class: 'field-error', id: uid('field-error'), text: message });
  box.append(el);
  describe(control, el);
  control.setAttribute('aria-invalid', 'true');
  const drop = () => clearFieldError(control);
  control.addEventListener(control.type === 'checkbox' ? 'change' : 'input', drop, { once: true });
}

/** clearFieldError removes control's error mark and message, if any. */
export function clearFieldError(control) {
  control.removeAttribute('aria-invalid');
  const ids = (control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  const keep = [];
  for (const id of ids) {
    const el = document.getElementById(id);
    if (el && el.classList.contains('field-error')) {
      el.remove();
    } else if (el || !id.startsWith('field-error')) {
      keep.push(id);
    }
  }
  if (keep.length) control.setAttribute('aria-describedby', keep.join(' '));
  else control.removeAttribute('aria-describedby');
}

const DAY = 24 * 60 * 60;

// expiryLabel names an expiry choice of the site policy (seconds; 0: never).
function expiryLabel(seconds) {
  if (seconds === 0) return t('panel.expiry.never');
  if (seconds % DAY === 0) return t('panel.expiry.days', { count: seconds / DAY });
  return t('panel.expiry.hours', { count: Math.round(seconds / 3600) });
}

/**
 * ExpiryChoice is the "Expires" select of the add and edit forms, filled
 * from the site policy's choices (GET /api/policy). It stays hidden until
 * the policy names them; without them the server applies the site's rule.
 *
 * current (edit form only) is the secret's expiry as it is: null for none,
 * else an ISO time. "Never" is preselected for a secret without one when
 * the policy offers it; a secret with an expiry gets a first choice that
 * keeps it ("Unchanged"), since a fixed time is none of the relative
 * choices.
 */
export class ExpiryChoice {
  #edit;
  #current;

  /**
   * @param {{policy: Promise<object|null>, current?: string|null, changed?: () => void}} opts
   *   current is undefined for a new secret (the add form)
   */
  constructor({ policy, current, changed = () => {} }) {
    this.#edit = current !== undefined;
    this.#current = current || null;
    this.select = h('select', { id: uid('expiry') });
    this.el = h('div', { class: 'field' },
      h('label', { for: this.select.id, text: t('panel.expiry.label') }),
      this.select);
    this.el.hidden = true;
    this.ready = Promise.resolve(policy).then((p) => {
      this.#offer(p);
      changed();
    }, () => {});
  }

  #offer(p) {
    const choices = p && Array.isArray(p.expiryChoicesSeconds)
      ? p.expiryChoicesSeconds.filter((s) => Number.isInteger(s) && s >= 0) : [];
    if (choices.length === 0) return;
    const options = choices.map((s) => h('option', { value: String(s), text: expiryLabel(s) }));
    let selected = String(p.defaultExpirySeconds || 0);
    if (this.#edit) {
      const neverOffered = choices.includes(0);
      if (this.#current || !neverOffered) {
        const label = this.#current
          ? t('panel.expiry.unchanged', { time: absoluteTime(new Date(this.#current)) })
          : t('panel.expiry.unchangedNever');
        options.unshift(h('option', { value: 'keep', text: label }));
        selected = 'keep';
      } else {
        selected = '0';
      }
    }
    replaceChildren(this.select, ...options);
    if ([...this.select.options].some((o) => o.value === selected)) this.select.value = selected;
    this.el.hidden = false;
  }

  /**
   * value is what to send: undefined for nothing (no choice offered, or
   * "Unchanged"), null for never, else the chosen time as a Date.
   */
  value() {
    if (this.el.hidden || this.select.value === 'keep') return undefined;
    const s = Number(this.select.value);
    if (s > 0) return new Date(Date.now() + s * 1000);
    return this.#edit ? null : undefined;
  }
}
