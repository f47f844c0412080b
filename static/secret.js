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
  MAX_TITLE_CHARS, MessageArea, PasswordPair, actionRow, checkContent, checkTitle, contentArea, guardDiscard, invalid,
  onEscape, textInput,
} from './forms.js';
import { UNLOCK_EXPIRED, describeError } from './messages.js';
import { t } from './i18n.js';

// Metadata fields of a secret. Unlock and edit answers mix metadata with
// the unlock itself (and reuse "expiresAt" for the unlock's expiry), so
// only these are taken from them.
const META_FIELDS = ['id', 'title', 'version', 'createdAt', 'createdBy', 'updatedAt', 'updatedBy'];

// CLIPBOARD_CLEAR_MS is how long copied content stays on the clipboard.
// Browser tests shorten it through window.__secretsTest.clipboardClearMs;
// nothing in production sets that.
const CLIPBOARD_CLEAR_MS = 30000;

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
  #clipTimer = 0;
  #busy = false;
  #titleId = uid('secret-title');
  #heading;
  #metaLine;
  #body;
  #message = new MessageArea();

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
      this.#message.show('Someone else changed this secret. Unlock it again to see the current version.');
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
    clearTimeout(this.#lockTimer);
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
    clearTimeout(this.#lockTimer);
    clearTimeout(this.#clipTimer);
    this.#unlock = null;
    wipe(this.el);
  }

  // ---- header --------------------------------------------------------

  #renderHeader() {
    const m = this.#meta;
    this.#heading.textContent = m.title;
    const parts = [
      h('span', {}, 'Added by ', this.#person(m.createdBy), ' ', timeElement(m.createdAt)),
    ];
    if (m.version > 1 && m.updatedAt) {
      parts.push(h('span', {}, 'edited by ', this.#person(m.updatedBy), ' ', timeElement(m.updatedAt)));
    }
    if (m.expiresAt) {
      parts.push(h('span', {}, 'deletes itself ', timeElement(m.expiresAt)));
    }
    replaceChildren(this.#metaLine, ...joinWith(parts, ' · '));
  }

  // #person renders a name that may still be on its way from the host.
  #person(accountId) {
    const { host } = this.#ctx;
    const el = h('span', { class: 'person', text: host.knownName(accountId) || 'someone' });
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
      invalid(input);
      return;
    }
    const res = await this.#run(() => this.#ctx.api.unlockSecret(this.id, password));
    if (!res.ok) {
      // Keep what was typed, selected, so a typo can be fixed or the whole
      // guess replaced by typing over it.
      if (res.error.code === 'wrong_password' || res.error.code === 'locked') invalid(input);
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
    this.#meta = { ...this.#meta, ...pickMeta(answer) };
    this.#unlock = {
      content: typeof answer.content === 'string' ? answer.content : '',
      unlockToken: answer.unlockToken,
      lockAt: answer.lockAt,
    };
    clearTimeout(this.#lockTimer);
    this.#lockTimer = setTimeout(() => this.checkExpiry(), Math.max(0, this.#unlock.lockAt - Date.now()));
    this.#renderHeader();
    this.#showUnlocked();
  }

  #expire() {
    const hadFocus = this.el.contains(document.activeElement);
    this.lock({ revoke: false });
    this.#message.show(UNLOCK_EXPIRED);
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
    const note = h('p', { class: 'unlocked-note' },
      `Unlocked for you until ${clockTime(lockAt)}; it locks itself then.`);

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
      button('Copy', { onClick: () => this.#copy(pre) }),
      hide,
      button('Lock', { onClick: () => this.#lockByHand() }),
      button('Edit', { onClick: () => this.#showEdit() }),
      button('Change password', { onClick: () => this.#showChangePassword() }),
      button('Delete', { kind: 'danger-subtle', onClick: () => this.#showUnlocked({ confirming: true }) }),
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
      this.#focusButton('Delete');
    };
    const box = h('div', { class: 'confirm', role: 'group', 'aria-labelledby': textId },
      h('p', { id: textId }, `Delete “${this.#meta.title}” for everyone? This cannot be undone.`),
      h('div', { class: 'actions' },
        button('Yes, delete', { kind: 'danger', onClick: () => this.#delete() }),
        button('Cancel', { onClick: cancel })),
    );
    onEscape(box, cancel);
    return box;
  }

  async #delete() {
    const res = await this.#run(() => this.#ctx.api.deleteSecret(this.id, this.#unlock.unlockToken));
    if (res.ok) {
      this.#unlock = null;
      this.#ctx.removed(this, `Deleted “${this.#meta.title}”.`);
    }
  }

  #lockByHand() {
    this.lock();
    this.#message.show('Locked.', { tone: 'success', clearAfter: 4000 });
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
      this.#message.show('Copied to the clipboard.', { tone: 'success', clearAfter: 4000 });
    } else {
      this.#message.show('Copying is blocked here. The content is selected: press Ctrl+C (⌘C on a Mac) to copy it.');
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
    const cancel = () => {
      this.#showUnlocked();
      this.#focusButton('Edit');
    };
    const form = h('form', { class: 'edit-form', novalidate: true },
      h('p', { class: 'unlocked-note' }, `Save before ${clockTime(this.#unlock.lockAt)}, when the unlock ends.`),
      fieldFor('Title', title),
      fieldFor('Content', content),
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
        invalid(problem[1]);
        return;
      }
      const res = await this.#run(() => this.#ctx.api.updateSecret(this.id, this.#unlock.unlockToken, {
        title: title.value,
        content: content.value,
        version: this.#meta.version,
      }), { onConflict: true });
      if (!res.ok) return;
      this.#open(res.value);
      this.#message.show('Saved.', { tone: 'success', clearAfter: 4000 });
      this.#body.querySelector('pre').focus();
    });
    this.#message.clear();
    this.#setState('editing', form);
    title.focus();
  }

  #showChangePassword() {
    const pair = new PasswordPair('New password', { policy: this.#ctx.api.policy().catch(() => null) });
    const cancel = () => {
      pair.clear();
      this.#showUnlocked();
      this.#focusButton('Change password');
    };
    const form = h('form', { class: 'password-form', novalidate: true },
      h('p', { class: 'form-intro' }, 'Everyone who needs this secret will need the new password.'),
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
        invalid(problem.control);
        return;
      }
      const password = pair.password.value;
      const res = await this.#run(() => this.#ctx.api.changePassword(this.id, this.#unlock.unlockToken, password));
      if (!res.ok) return;
      pair.clear();
      // The new password came with a new unlock token; keep the content.
      this.#open({ ...res.value, content: this.#unlock.content });
      this.#message.show('Password changed.', { tone: 'success', clearAfter: 6000 });
      this.#focusButton('Change password');
    });
    this.#message.clear();
    this.#setState('changing-password', form);
    pair.password.focus();
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
        const hadFocus = this.el.contains(document.activeElement);
        this.lock({ revoke: false });
        this.#message.error(describeError(error));
        if (hadFocus) this.#focusPassword();
        return;
      }
      case 'not_found':
        this.#ctx.removed(this, `“${this.#meta.title}” no longer exists. Someone may have deleted it.`);
        return;
      case 'conflict':
        if (onConflict) {
          this.#message.error(describeError(error), { action: { label: 'Reload', run: () => this.#ctx.reload() } });
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
