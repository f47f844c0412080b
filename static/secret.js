// One secret in the list: its heading and metadata, and a body that is one
// of: locked (unlock form), unlocked (content and actions), editing,
// changing the password, or confirming deletion.
//
// While unlocked, the content and the unlock token live only in this
// object's private fields and in the DOM of this item. Locking (by hand, by
// expiry, or because the server no longer accepts the unlock) drops both.

import { button, h, icon, replaceChildren, uid, wipe } from './dom.js';
import { clockTime, timeElement } from './format.js';
import {
  ExpiryChoice, MAX_TITLE_CHARS, MessageArea, PasswordPair, actionRow, checkContent, checkTitle, contentArea,
  guardDiscard, invalid, onEscape, textInput,
} from './forms.js';
import { describeError, unlockExpired } from './messages.js';
import { t } from './i18n.js';

// Metadata fields of a secret. Unlock and edit answers mix metadata with
// the unlock itself (and reuse "expiresAt" for the unlock's expiry), so
// only these are taken from them.
const META_FIELDS = ['id', 'title', 'version', 'createdAt', 'createdBy', 'updatedAt', 'updatedBy'];

// CLIPBOARD_CLEAR_MS is how long copied content stays on the clipboard.
// Browser tests shorten it through window.__secretsTest.clipboardClearMs;
// nothing in production sets that.
const CLIPBOARD_CLEAR_MS = 30000;

// WARN_MS before an unlock ends, the item warns (once) and offers to keep
// it unlocked.
const WARN_MS = 60 * 1000;

// TICK_MS is how often the countdown of the remaining unlock time moves.
const TICK_MS = 1000;

// The states in which the user is typing into a form that must survive the
// end of the unlock.
const FORM_STATES = ['editing', 'changing-password'];

function clipboardClearMs() {
  const hook = window.__secretsTest;
  const ms = hook && Number(hook.clipboardClearMs);
  return ms > 0 ? ms : CLIPBOARD_CLEAR_MS;
}

/**
 * SecretItem renders and drives one secret.
 *
 * ctx: {
 *   api: Api, host: Host,
 *   removed(item, message): the secret is gone (deleted or not found); the
 *     list drops the item and calls its dispose(),
 *   reload(): reload the whole list,
 *   failed(error): every error, for the app to react to those that concern
 *     it as a whole (an expired session),
 *   changed(): the item's size or state changed (for resizing),
 * }
 */
export class SecretItem {
  #ctx;
  #meta;
  #unlock = null; // {content, unlockToken, lockAt}
  #lockTimer = 0;
  #tickTimer = 0;
  #warned = false;
  #clipTimer = 0;
  #busy = false;
  #titleId = uid('secret-title');
  #heading;
  #metaLine;
  #body;
  #message = new MessageArea();
  // The unlock's clock, on top of every open state: the countdown (a timer,
  // not a live region, so it is not read out every second), an alert that
  // speaks once (the warning, the end of the unlock) and the slot for "Keep
  // unlocked" and the password to unlock again in place.
  #countdown = h('p', { class: 'unlock-countdown', role: 'timer' });
  #alert = h('div', { class: 'unlock-alert', role: 'alert' });
  #keepSlot = h('div', { class: 'unlock-keep' });
  #clock = h('div', { class: 'unlock-clock' }, this.#countdown, this.#alert, this.#keepSlot);
  // The edit form's "Save before …" line, moved on by an unlock in place.
  #saveNote = null;

  constructor(meta, ctx) {
    this.#ctx = ctx;
    // The list's expiresAt is the secret's self-destruct time; keep it.
    this.#meta = { ...pickMeta(meta), expiresAt: meta.expiresAt };
    this.#heading = h('h2', { class: 'secret-title', id: this.#titleId });
    this.#metaLine = h('p', { class: 'secret-meta' });
    this.#body = h('div', { class: 'secret-body' });
    this.el = h('li', { class: 'secret', dataset: { id: this.#meta.id } },
      h('div', { class: 'secret-header' }, h('span', { class: 'secret-icon' }), this.#heading),
      this.#metaLine,
      this.#body,
      this.#message.el,
    );
    this.#renderHeader();
    this.#showLocked();
  }

  /** id is the secret's id. */
  get id() {
    return this.#meta.id;
  }

  /** unlocked reports whether this user currently has the secret open. */
  get unlocked() {
    return this.#unlock !== null;
  }

  /**
   * update takes fresh metadata from a list reload. An open secret whose
   * version moved on was changed by someone else; our unlock token is for
   * the old version and the server will refuse it, so lock now and say why.
   */
  update(meta) {
    const changed = meta.version !== this.#meta.version;
    this.#meta = { ...this.#meta, ...pickMeta(meta), expiresAt: meta.expiresAt };
    this.#renderHeader();
    if (changed && this.#unlock) {
      this.lock({ revoke: false });
      this.#message.show(t('panel.secret.changedElsewhere'));
    }
  }

  /**
   * lock closes the secret: the content leaves the DOM and memory, and the
   * unlock token is revoked on the server unless it is known to be dead.
   * keepalive lets the revocation outlive the page (used on pagehide).
   */
  lock({ revoke = true, keepalive = false } = {}) {
    const unlock = this.#unlock;
    this.#unlock = null;
    this.#stopClock();
    // The pending clear holds the copied text; it goes with the content.
    clearTimeout(this.#clipTimer);
    if (unlock && revoke) {
      // Best effort: if this fails, the token still expires on its own soon.
      this.#ctx.api.lockSecret(this.id, unlock.unlockToken, { keepalive }).catch(() => {});
    }
    this.#message.clear();
    this.#showLocked();
  }

  /**
   * checkExpiry locks the secret if its unlock has run out. Timers in
   * background tabs can fire late, so the app also calls this on a tick and
   * when the tab becomes visible.
   */
  checkExpiry() {
    if (this.#unlock && Date.now() >= this.#unlock.lockAt) this.#expire();
  }

  /** dispose stops timers and clears any content before the item is dropped. */
  dispose() {
    this.#stopClock();
    clearTimeout(this.#clipTimer);
    this.#unlock = null;
    wipe(this.el);
  }

  // ---- header --------------------------------------------------------

  #renderHeader() {
    const m = this.#meta;
    this.#heading.textContent = m.title;
    const parts = [
      h('span', {}, t('panel.meta.added'), ' ', this.#person(m.createdBy), ' ', timeElement(m.createdAt)),
    ];
    if (m.version > 1 && m.updatedAt) {
      parts.push(h('span', {}, t('panel.meta.edited'), ' ', this.#person(m.updatedBy), ' ', timeElement(m.updatedAt)));
    }
    if (m.expiresAt) {
      parts.push(h('span', {}, t('panel.meta.expires'), ' ', timeElement(m.expiresAt)));
    }
    replaceChildren(this.#metaLine, ...joinWith(parts, ' · '));
  }

  // #person renders a name that may still be on its way from the host.
  #person(accountId) {
    const { host } = this.#ctx;
    const el = h('span', { class: 'person', text: host.knownName(accountId) || t('panel.meta.someone') });
    if (!host.knownName(accountId)) {
      host.displayName(accountId).then((name) => {
        el.textContent = name;
        this.#ctx.changed();
      });
    }
    return el;
  }

  // ---- states --------------------------------------------------------

  #setState(state, ...children) {
    wipe(this.#body);
    this.el.dataset.state = state;
    if (state !== 'locked') children.unshift(this.#clock);
    replaceChildren(this.#body, ...children);
    replaceChildren(this.el.querySelector('.secret-icon'), icon(state === 'locked' ? 'locked' : 'unlocked'));
    this.#ctx.changed();
  }

  #showLocked() {
    // autocomplete="current-password" lets a password manager fill the
    // field; the accessible name says which secret it unlocks, since a page
    // can hold many identical "Password" fields.
    const input = h('input', {
      type: 'password',
      autocomplete: 'current-password',
      spellcheck: 'false',
      autocapitalize: 'off',
      required: true,
      id: uid('unlock-password'),
      'aria-label': t('panel.unlock.passwordFor', { title: this.#meta.title }),
    });
    const toggle = button(t('panel.unlock.show'), { 'aria-pressed': 'false', class: 'button default reveal' });
    toggle.addEventListener('click', () => {
      const shown = input.type === 'text';
      input.type = shown ? 'password' : 'text';
      toggle.setAttribute('aria-pressed', String(!shown));
      toggle.textContent = shown ? t('panel.unlock.show') : t('panel.unlock.hide');
      input.focus();
    });
    const form = h('form', { class: 'unlock-form', novalidate: true },
      h('div', { class: 'field' },
        h('label', { for: input.id, text: t('panel.unlock.password') }),
        h('div', { class: 'inline' }, input, toggle, button(t('panel.unlock.submit'), { kind: 'primary', type: 'submit' }))),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#unlockWith(input);
    });
    this.#setState('locked', form);
  }

  async #unlockWith(input) {
    if (this.#busy) return;
    const password = input.value;
    if (password === '') {
      this.#message.error(t('panel.unlock.empty'));
      invalid(input, t('panel.unlock.empty'));
      return;
    }
    const res = await this.#run(() => this.#ctx.api.unlockSecret(this.id, password));
    if (!res.ok) {
      // Keep what was typed, selected, so a typo can be fixed or the whole
      // guess replaced by typing over it.
      if (res.error.code === 'wrong_password' || res.error.code === 'locked') invalid(input, describeError(res.error));
      if (input.isConnected) {
        input.focus();
        input.select();
      }
      return;
    }
    // The password is not needed any more.
    input.value = '';
    this.#message.clear();
    this.#open(res.value);
    this.#body.querySelector('pre').focus();
  }

  // #open takes an unlock (or edit) answer: fresh metadata, content and token.
  #open(answer) {
    this.#take(answer);
    this.#showUnlocked();
  }

  // #take makes answer (an unlock, edit or password answer) the current
  // unlock and starts its clock, leaving the view as it is.
  #take(answer) {
    this.#meta = { ...this.#meta, ...pickMeta(answer) };
    // Unlock and edit answers name the secret's own expiry (none: absent).
    if ('unlockToken' in answer && 'title' in answer) this.#meta.expiresAt = answer.secretExpiresAt;
    this.#unlock = {
      content: typeof answer.content === 'string' ? answer.content : '',
      unlockToken: answer.unlockToken,
      lockAt: answer.lockAt,
    };
    this.#startClock();
    this.#renderHeader();
  }

  // ---- the unlock's clock --------------------------------------------

  #startClock() {
    this.#stopClock();
    this.#setLockAt(this.#unlock.lockAt);
    this.#tickTimer = setInterval(() => this.#tick(), TICK_MS);
    this.#tick();
  }

  #stopClock() {
    clearTimeout(this.#lockTimer);
    clearInterval(this.#tickTimer);
    this.#warned = false;
    this.#countdown.textContent = '';
    delete this.#countdown.dataset.remaining;
    this.#alert.replaceChildren();
    this.#keepSlot.replaceChildren();
    delete this.el.dataset.unlock;
  }

  #setLockAt(ms) {
    this.#unlock.lockAt = ms;
    clearTimeout(this.#lockTimer);
    this.#lockTimer = setTimeout(() => this.checkExpiry(), Math.max(0, ms - Date.now()));
  }

  // #tick moves the countdown and warns once when the last minute starts.
  // Browser tests may shorten the time left through
  // window.__secretsTest.unlockLeftMs (taken once, by the next tick of an
  // open secret); the end then comes through the same timer as always.
  // Nothing in production sets it.
  #tick() {
    if (!this.#unlock) return;
    const hook = window.__secretsTest;
    const shorten = hook && Number(hook.unlockLeftMs);
    if (shorten > 0) {
      delete hook.unlockLeftMs;
      if (this.#unlock.lockAt - Date.now() > shorten) this.#setLockAt(Date.now() + shorten);
    }
    const left = this.#unlock.lockAt - Date.now();
    if (left <= 0) {
      this.checkExpiry();
      return;
    }
    const seconds = Math.ceil(left / 1000);
    this.#countdown.textContent = t('panel.clock.left', { time: minutesSeconds(seconds) });
    this.#countdown.dataset.remaining = String(seconds);
    if (left <= WARN_MS && !this.#warned) {
      this.#warned = true;
      this.el.dataset.unlock = 'ending';
      this.#alert.textContent = t('panel.clock.soon');
      if (!this.#keepSlot.firstChild) {
        replaceChildren(this.#keepSlot,
          button(t('panel.clock.keep'), { onClick: () => this.#askPassword(t('panel.reunlock.toKeep'), { focus: true }) }));
      }
      this.#ctx.changed();
    }
  }

  #formOpen() {
    return FORM_STATES.includes(this.el.dataset.state);
  }

  #expire() {
    if (this.#formOpen()) {
      this.#expireInForm();
      return;
    }
    const hadFocus = this.el.contains(document.activeElement);
    this.lock({ revoke: false });
    this.#message.show(unlockExpired());
    if (hadFocus) this.#focusPassword();
  }

  #showUnlocked({ confirming = false } = {}) {
    const { content, lockAt } = this.#unlock;
    const pre = h('pre', {
      class: 'content',
      tabindex: '0',
      'aria-labelledby': this.#titleId,
      text: content,
    });
    const note = h('p', { class: 'unlocked-note' }, t('panel.unlocked.note', { time: clockTime(lockAt) }));

    // Hide takes the content off the screen (someone looking over a
    // shoulder, a screen share) without ending the unlock; Copy still works.
    const hide = button(t('panel.content.hide'), { 'aria-pressed': 'false' });
    hide.addEventListener('click', () => {
      const hidden = hide.getAttribute('aria-pressed') === 'true';
      pre.textContent = hidden ? this.#unlock.content : t('panel.content.hidden');
      pre.classList.toggle('content-hidden', !hidden);
      hide.setAttribute('aria-pressed', String(!hidden));
      hide.textContent = hidden ? t('panel.content.hide') : t('panel.content.show');
    });
    const actions = h('div', { class: 'actions' },
      button(t('panel.action.copy'), { onClick: () => this.#copy(pre) }),
      hide,
      button(t('panel.action.lock'), { onClick: () => this.#lockByHand() }),
      button(t('panel.action.edit'), { onClick: () => this.#showEdit() }),
      button(t('panel.action.changePassword'), { onClick: () => this.#showChangePassword() }),
      button(t('panel.action.delete'), { kind: 'danger-subtle', onClick: () => this.#showUnlocked({ confirming: true }) }),
    );

    const children = [note, pre];
    const lines = this.#lineButtons();
    if (lines) children.push(lines);
    if (confirming) {
      children.push(this.#deleteConfirmation());
    } else {
      children.push(actions);
    }
    this.#setState(confirming ? 'confirm-delete' : 'unlocked', h('div', { class: 'unlocked' }, ...children));
    if (confirming) this.#body.querySelector('.confirm .button:not(.danger)').focus();
  }

  #deleteConfirmation() {
    const textId = uid('confirm');
    const cancel = () => {
      this.#showUnlocked();
      this.#focusButton(t('panel.action.delete'));
    };
    const box = h('div', { class: 'confirm', role: 'group', 'aria-labelledby': textId },
      h('p', { id: textId }, t('panel.delete.question', { title: this.#meta.title })),
      h('div', { class: 'actions' },
        button(t('panel.delete.confirm'), { kind: 'danger', onClick: () => this.#delete() }),
        button(t('panel.form.cancel'), { onClick: cancel })),
    );
    onEscape(box, cancel);
    return box;
  }

  async #delete() {
    const res = await this.#run(() => this.#ctx.api.deleteSecret(this.id, this.#unlock.unlockToken));
    if (res.ok) {
      this.#unlock = null;
      // Inline in the list's status, not a flag: a flag floats over the
      // page and the list changes under it right now.
      this.#ctx.removed(this, t('panel.delete.done', { title: this.#meta.title }));
    }
  }

  #lockByHand() {
    this.lock();
    this.#message.show(t('panel.lock.done'), { tone: 'success', clearAfter: 4000 });
    this.#focusPassword();
  }

  // #lineButtons offers "Copy line N" for each non-blank line of a
  // multi-line secret (a user name and a password, say), so one line can be
  // copied without the rest. None for a single line: Copy does that.
  #lineButtons() {
    const lines = this.#unlock.content.split(/\r?\n/);
    if (lines.length < 2) return null;
    const buttons = [];
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      // The visible text is short; the hidden number completes the
      // accessible name, "Copy line N".
      const b = h('button', { type: 'button', class: 'button subtle copy-line' },
        t('panel.copy.line'), h('span', { class: 'visually-hidden', text: ` ${i + 1}` }));
      b.setAttribute('aria-label', t('panel.copy.lineN', { n: i + 1 }));
      b.addEventListener('click', () => {
        const pre = this.#body.querySelector('pre');
        const current = this.#unlock ? this.#unlock.content.split(/\r?\n/)[i] : '';
        this.#copy(pre, current);
      });
      buttons.push(h('li', {}, h('span', { class: 'copy-line-number', 'aria-hidden': 'true', text: `${i + 1}` }), b));
    });
    if (buttons.length === 0) return null;
    return h('ol', { class: 'copy-lines', 'aria-label': t('panel.copy.lines') }, ...buttons);
  }

  async #copy(pre, text = this.#unlock ? this.#unlock.content : '') {
    const how = await copyText(text, pre);
    // Promise the clear only where it can happen (see #scheduleClear).
    if (how === 'clipboard' && await mayReadClipboard()) {
      const ms = clipboardClearMs();
      this.#scheduleClear(text, ms);
      this.#message.show(t('panel.copy.copiedClears', { count: Math.round(ms / 1000) }), { tone: 'success', clearAfter: 4000 });
    } else if (how) {
      // Without reading the clipboard back there is nothing to check a
      // clear against, so it is not cleared (nor promised).
      this.#message.show(t('panel.copy.copied'), { tone: 'success', clearAfter: 4000 });
    } else {
      this.#message.show(t('panel.copy.blocked'));
    }
  }

  /**
   * #scheduleClear empties the clipboard after ms, but only if it still
   * holds what we copied: anything copied since (here or in another app)
   * is the user's and stays. Where the browser refuses readText (no
   * permission, frame not focused) we cannot tell, so we leave the
   * clipboard alone rather than risk wiping something else. We only read
   * where reading is already granted: asking would pop a permission prompt
   * (or Firefox's paste menu) out of nowhere half a minute after the copy.
   */
  #scheduleClear(copied, ms) {
    clearTimeout(this.#clipTimer);
    delete this.el.dataset.clipboard;
    this.#clipTimer = setTimeout(async () => {
      this.#clipTimer = 0;
      // data-clipboard records the outcome (cleared, kept, unknown) for
      // tests; it holds no content.
      let outcome = 'unknown';
      try {
        if (await mayReadClipboard()) {
          if (await navigator.clipboard.readText() === copied) {
            await navigator.clipboard.writeText('');
            outcome = 'cleared';
          } else {
            outcome = 'kept';
          }
        }
      } catch {
        // Refused: leave the clipboard as it is (see above).
      }
      this.el.dataset.clipboard = outcome;
    }, ms);
  }

  #showEdit() {
    const title = textInput({
      value: this.#meta.title, maxlength: String(MAX_TITLE_CHARS), required: true, id: uid('title'),
    });
    const content = contentArea(this.#unlock.content);
    content.id = uid('content');
    // The edit is based on this version, whatever an unlock in place brings
    // later: a change made meanwhile by someone else must be a conflict,
    // not overwritten.
    const baseVersion = this.#meta.version;
    const expiry = new ExpiryChoice({
      policy: this.#ctx.api.policy().catch(() => null),
      current: this.#meta.expiresAt || null,
      changed: () => this.#ctx.changed(),
    });
    const cancel = () => {
      this.#closeForm();
      this.#focusButton(t('panel.action.edit'));
    };
    this.#saveNote = h('p', { class: 'unlocked-note' }, t('panel.edit.saveBefore', { time: clockTime(this.#unlock.lockAt) }));
    const form = h('form', { class: 'edit-form', novalidate: true },
      this.#saveNote,
      fieldFor(t('panel.form.title'), title),
      fieldFor(t('panel.form.content'), content),
      expiry.el,
      actionRow({ onCancel: () => ask() }),
    );
    const ask = guardDiscard(form, cancel);
    onEscape(form, ask);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (this.#busy) return;
      const problem = checkTitle(title.value) ? [checkTitle(title.value), title]
        : checkContent(content.value) ? [checkContent(content.value), content] : null;
      if (problem) {
        this.#message.error(problem[0]);
        invalid(problem[1], problem[0]);
        return;
      }
      if (!this.#unlock) {
        this.#needUnlock();
        return;
      }
      await expiry.ready;
      const res = await this.#run(() => this.#ctx.api.updateSecret(this.id, this.#unlock.unlockToken, {
        title: title.value,
        content: content.value,
        version: baseVersion,
        expiresAt: expiry.value(),
      }), { onConflict: true });
      if (!res.ok) return;
      this.#saveNote = null;
      this.#open(res.value);
      this.#success(t('panel.edit.saved'));
      this.#body.querySelector('pre').focus();
    });
    this.#message.clear();
    this.#setState('editing', form);
    title.focus();
  }

  #showChangePassword() {
    const pair = new PasswordPair(t('panel.password.new'), { policy: this.#ctx.api.policy().catch(() => null) });
    const cancel = () => {
      pair.clear();
      this.#closeForm();
      this.#focusButton(t('panel.action.changePassword'));
    };
    const form = h('form', { class: 'password-form', novalidate: true },
      h('p', { class: 'form-intro' }, t('panel.password.intro')),
      pair.el,
      actionRow({ onCancel: () => ask() }),
    );
    const ask = guardDiscard(form, cancel);
    onEscape(form, ask);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (this.#busy) return;
      await pair.ready;
      const problem = pair.check();
      if (problem) {
        this.#message.error(problem.message);
        invalid(problem.control, problem.message);
        return;
      }
      if (!this.#unlock) {
        this.#needUnlock();
        return;
      }
      const password = pair.password.value;
      const res = await this.#run(() => this.#ctx.api.changePassword(this.id, this.#unlock.unlockToken, password));
      if (!res.ok) return;
      pair.clear();
      // The new password came with a new unlock token; keep the content.
      this.#open({ ...res.value, content: this.#unlock.content });
      this.#success(t('panel.password.changed'), 6000);
      this.#focusButton(t('panel.action.changePassword'));
    });
    this.#message.clear();
    this.#setState('changing-password', form);
    pair.password.focus();
  }

  // #closeForm leaves the edit or change-password form: back to the content
  // while the unlock lasts, to the locked state if it ran out meanwhile.
  #closeForm() {
    this.#saveNote = null;
    if (this.#unlock) {
      this.#showUnlocked();
    } else {
      this.lock({ revoke: false });
    }
  }

  // #success shows a transient success as a host flag where the host has
  // them, else inline.
  #success(text, clearAfter = 4000) {
    if (this.#ctx.host.flag(text)) {
      this.#message.clear();
      return;
    }
    this.#message.show(text, { tone: 'success', clearAfter });
  }

  // ---- unlocking again in place --------------------------------------

  /**
   * #expireInForm ends the unlock while a form is open without dropping
   * what was typed: the token is gone (so nothing can be saved with it),
   * the form stays, and the password to unlock again is asked in place.
   */
  #expireInForm(text = t('panel.clock.endedKept')) {
    this.#unlock = null;
    this.#stopClock();
    clearTimeout(this.#clipTimer);
    this.el.dataset.unlock = 'ended';
    this.#countdown.textContent = t('panel.clock.ended');
    this.#alert.textContent = text;
    this.#askPassword(t('panel.reunlock.toSave'));
  }

  // #needUnlock answers Save while the unlock is over: the form stays, the
  // password field says why.
  #needUnlock() {
    const input = this.#keepSlot.querySelector('input[type="password"], input.reunlock-password');
    if (input) invalid(input, t('panel.reunlock.toSave'));
  }

  // #askPassword shows the password field that unlocks again without
  // leaving the current view.
  #askPassword(text, { focus = false } = {}) {
    const input = h('input', {
      type: 'password',
      class: 'reunlock-password',
      autocomplete: 'current-password',
      spellcheck: 'false',
      autocapitalize: 'off',
      required: true,
      id: uid('reunlock-password'),
    });
    const textId = uid('reunlock');
    const form = h('form', { class: 'reunlock-form', novalidate: true, 'aria-labelledby': textId },
      h('p', { class: 'reunlock-text', id: textId, text }),
      h('div', { class: 'field' },
        h('label', { for: input.id, text: t('panel.unlock.password') }),
        h('div', { class: 'inline' }, input, button(t('panel.unlock.submit'), { kind: 'primary', type: 'submit' }))),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#unlockInPlace(input);
    });
    wipe(this.#keepSlot);
    replaceChildren(this.#keepSlot, form);
    this.#ctx.changed();
    if (focus) input.focus();
  }

  async #unlockInPlace(input) {
    if (this.#busy) return;
    const password = input.value;
    if (password === '') {
      invalid(input, t('panel.unlock.empty'));
      return;
    }
    const res = await this.#run(() => this.#ctx.api.unlockSecret(this.id, password));
    if (!res.ok) {
      // The form and everything typed stay; only the guess is marked.
      if (input.isConnected) {
        invalid(input, describeError(res.error));
        input.select();
      }
      return;
    }
    input.value = '';
    if (!this.#formOpen()) {
      this.#open(res.value);
      this.#body.querySelector('pre').focus();
      return;
    }
    // Keep the form as it is; only the unlock (and its clock) is new.
    const returnTo = this.#body.querySelector('form:not(.reunlock-form) input, form:not(.reunlock-form) textarea');
    this.#take(res.value);
    if (this.#saveNote) this.#saveNote.textContent = t('panel.edit.saveBefore', { time: clockTime(this.#unlock.lockAt) });
    this.#message.show(t('panel.reunlock.done'), { tone: 'success', clearAfter: 4000 });
    this.#ctx.changed();
    if (returnTo) returnTo.focus();
  }

  // ---- plumbing ------------------------------------------------------

  /**
   * #run performs one API call for this item with the shared error
   * handling: a busy guard against double submits, and the reactions every
   * action has in common (unlock gone → lock, secret gone → remove).
   * Returns {ok: true, value} or {ok: false, error}.
   */
  async #run(call, { onConflict = false } = {}) {
    this.#busy = true;
    this.el.setAttribute('aria-busy', 'true');
    this.#message.clear();
    try {
      return { ok: true, value: await call() };
    } catch (error) {
      this.#fail(error, { onConflict });
      return { ok: false, error };
    } finally {
      this.#busy = false;
      this.el.removeAttribute('aria-busy');
    }
  }

  #fail(error, { onConflict }) {
    this.#ctx.failed(error);
    switch (error.code) {
      case 'unlock_required': {
        // The server ended the unlock first: keep an open form as on expiry.
        if (this.#formOpen()) {
          this.#expireInForm();
          return;
        }
        const hadFocus = this.el.contains(document.activeElement);
        this.lock({ revoke: false });
        this.#message.error(describeError(error));
        if (hadFocus) this.#focusPassword();
        return;
      }
      case 'not_found':
        this.#ctx.removed(this, t('panel.secret.gone', { title: this.#meta.title }));
        return;
      case 'conflict':
        if (onConflict) {
          this.#message.error(describeError(error), { action: { label: t('panel.secret.reload'), run: () => this.#ctx.reload() } });
          return;
        }
        break;
      default:
        break;
    }
    this.#message.error(describeError(error));
  }

  #focusPassword() {
    const input = this.#body.querySelector('input[type="password"]');
    if (input) input.focus();
  }

  #focusButton(text) {
    for (const b of this.#body.querySelectorAll('button')) {
      if (b.textContent === text) {
        b.focus();
        return;
      }
    }
  }
}

// minutesSeconds formats a countdown: "4:05".
function minutesSeconds(total) {
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

function pickMeta(src) {
  const out = {};
  for (const k of META_FIELDS) if (src && k in src) out[k] = src[k];
  return out;
}

function fieldFor(label, control) {
  return h('div', { class: 'field' }, h('label', { for: control.id, text: label }), control);
}

function joinWith(parts, sep) {
  return parts.flatMap((p, i) => (i === 0 ? [p] : [sep, p]));
}

/**
 * mayReadClipboard reports whether navigator.clipboard.readText can run
 * without prompting: the frame may use clipboard-read and the permission
 * is already granted. Browsers that cannot tell (the query throws) get no.
 */
async function mayReadClipboard() {
  if (!navigator.clipboard || typeof navigator.clipboard.readText !== 'function') return false;
  const policy = document.permissionsPolicy || document.featurePolicy;
  if (policy && typeof policy.allowsFeature === 'function' && !policy.allowsFeature('clipboard-read')) return false;
  try {
    const status = await navigator.permissions.query({ name: 'clipboard-read' });
    return status.state === 'granted';
  } catch {
    return false;
  }
}

/**
 * copyText puts text on the clipboard and says how: 'clipboard' (the async
 * Clipboard API), 'selection' (execCommand) or '' (failed). The async Clipboard API is used only
 * where the frame is allowed to write (host iframes often are not, and
 * calling it anyway logs a policy violation); otherwise the content is
 * selected and copied with execCommand, which works inside a user gesture.
 * On failure the content stays selected so the user can copy by hand.
 */
async function copyText(text, pre) {
  const policy = document.permissionsPolicy || document.featurePolicy;
  const allowed = !policy || typeof policy.allowsFeature !== 'function' || policy.allowsFeature('clipboard-write');
  if (allowed && navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return 'clipboard';
    } catch {
      // Fall through to the selection fallback.
    }
  }
  // Select exactly text: the pre when it shows just that, else (one line,
  // or the content is hidden) a short-lived off-screen copy of it.
  const temp = pre.textContent === text ? null
    : h('pre', { class: 'visually-hidden', 'aria-hidden': 'true', text });
  if (temp) pre.after(temp);
  const selection = window.getSelection();
  const range = document.createRange();
  range.selectNodeContents(temp || pre);
  selection.removeAllRanges();
  selection.addRange(range);
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  if (temp) {
    selection.removeAllRanges();
    temp.remove();
  }
  if (ok) selection.removeAllRanges();
  return ok ? 'selection' : '';
}
