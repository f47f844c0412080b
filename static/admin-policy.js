// The "Policy" part of the admin page: password length, lockouts, unlock
// time and default expiry. The server stores durations in seconds; people
// think in minutes and days, so the form converts both ways. The server
// checks every rule and its sentence is shown as it is.

import { humanDuration, loadError } from './admin-shared.js';
import { button, h, replaceChildren, uid } from './dom.js';
import { MessageArea, invalid } from './forms.js';
import { t } from './i18n.js';
import { describeError } from './messages.js';

const MINUTE = 60;
const DAY = 24 * 3600;

// One entry per input. unit: seconds per unit shown (1 for plain counts).
// label, range and hint come from the catalogue (admin.policy.<key>.*);
// range is the first sentence of the hint and also words a value outside it.
const GROUPS = [
  {
    legend: 'admin.policy.groupPasswords',
    fields: [
      { key: 'minPasswordLength', unit: 1, integer: true, min: 8, max: 128 },
      { key: 'lockoutThreshold', unit: 1, integer: true, min: 1, max: 100 },
      { key: 'lockoutSeconds', unit: MINUTE, min: 10 / MINUTE, max: 1440 },
      { key: 'lockoutMaxSeconds', unit: MINUTE, min: 10 / MINUTE, max: 10080 },
    ],
  },
  {
    legend: 'admin.policy.groupUnlocking',
    fields: [
      { key: 'unlockTtlSeconds', unit: MINUTE, min: 1, max: 1440 },
      { key: 'defaultExpirySeconds', unit: DAY, zeroIsNever: true, min: 1 / 24, max: 1825 },
    ],
  },
];

// The words of a field, read when the form is built (after setLocale).
// The keys are spelled out so the catalogue test sees each one in use.
const WORDS = {
  minPasswordLength: () => [t('admin.policy.minPasswordLength.label'), t('admin.policy.minPasswordLength.range'), 'admin.policy.minPasswordLength.hint'],
  lockoutThreshold: () => [t('admin.policy.lockoutThreshold.label'), t('admin.policy.lockoutThreshold.range'), 'admin.policy.lockoutThreshold.hint'],
  lockoutSeconds: () => [t('admin.policy.lockoutSeconds.label'), t('admin.policy.lockoutSeconds.range'), 'admin.policy.lockoutSeconds.hint'],
  lockoutMaxSeconds: () => [t('admin.policy.lockoutMaxSeconds.label'), t('admin.policy.lockoutMaxSeconds.range'), 'admin.policy.lockoutMaxSeconds.hint'],
  unlockTtlSeconds: () => [t('admin.policy.unlockTtlSeconds.label'), t('admin.policy.unlockTtlSeconds.range'), 'admin.policy.unlockTtlSeconds.hint'],
  defaultExpirySeconds: () => [t('admin.policy.defaultExpirySeconds.label'), t('admin.policy.defaultExpirySeconds.range'), 'admin.policy.defaultExpirySeconds.hint'],
};

// words returns {label, range, hint} of a field in the current language.
function words(def) {
  const [label, range, hintKey] = WORDS[def.key]();
  return { label, range, hint: t(hintKey, { range }) };
}

/**
 * PolicyPanel shows and saves the site's policy.
 *
 * ctx: {api: AdminApi, failed(err) → bool, changed()}
 */
export class PolicyPanel {
  #ctx;
  #body = h('div', { class: 'admin-policy-body' });
  #message = new MessageArea();
  #form = null;
  #inputs = new Map(); // key → {input, equiv, def}
  #stored = {}; // the policy as last read or saved, in seconds
  #shown = {}; // the text each input was filled with
  #loaded = false;
  #busy = false;

  constructor(ctx) {
    this.#ctx = ctx;
    const headingId = uid('admin-policy');
    this.el = h('section', { class: 'admin-section admin-policy', 'aria-labelledby': headingId },
      h('div', { class: 'admin-section-header' },
        h('h2', { id: headingId, text: t('admin.policy.heading') }),
        h('p', { class: 'admin-intro', text: t('admin.policy.intro') })),
      this.#body,
    );
  }

  /** show loads the policy the first time the section is shown. */
  show() {
    if (!this.#loaded) this.load();
  }

  async load() {
    this.#loaded = true;
    this.el.setAttribute('aria-busy', 'true');
    replaceChildren(this.#body, h('p', { class: 'loading', text: t('admin.policy.loading') }));
    this.#ctx.changed();
    try {
      const policy = await this.#ctx.api.getPolicy();
      this.#buildForm();
      this.#fill(policy);
    } catch (err) {
      if (this.#ctx.failed(err)) return;
      replaceChildren(this.#body, loadError(err, () => this.load()));
    } finally {
      this.el.removeAttribute('aria-busy');
      this.#ctx.changed();
    }
  }

  #buildForm() {
    this.#inputs.clear();
    const groups = GROUPS.map((g) => h('fieldset', { class: 'admin-fieldset' },
      h('legend', { text: t(g.legend) }),
      h('div', { class: 'admin-policy-grid' }, ...g.fields.map((def) => this.#field(def)))));
    this.#form = h('form', { class: 'admin-policy-form', novalidate: true },
      ...groups,
      h('div', { class: 'actions' }, button(t('admin.policy.save'), { kind: 'primary', type: 'submit' })),
      this.#message.el,
    );
    this.#form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#save();
    });
    replaceChildren(this.#body, this.#form);
  }

  #field(def) {
    const { label, hint: hintText } = words(def);
    const input = h('input', {
      type: 'number',
      id: uid('policy'),
      class: 'admin-number',
      min: def.zeroIsNever ? '0' : String(def.min),
      max: String(def.max),
      step: def.integer ? '1' : 'any',
      inputmode: def.integer ? 'numeric' : 'decimal',
      required: true,
    });
    const hint = h('p', { class: 'hint', id: uid('hint'), text: hintText });
    // The converted value, so "0.5" minutes reads as "30 seconds".
    const equiv = def.unit > 1 ? h('span', { class: 'admin-equiv', id: uid('equiv') }) : null;
    input.setAttribute('aria-describedby', [equiv && equiv.id, hint.id].filter(Boolean).join(' '));
    if (equiv) input.addEventListener('input', () => this.#updateEquiv(def));
    this.#inputs.set(def.key, { input, equiv, def });
    return h('div', { class: 'field' },
      h('label', { for: input.id, text: label }),
      h('div', { class: 'admin-number-row' }, input, equiv),
      hint);
  }

  #fill(policy) {
    this.#stored = { ...policy };
    for (const { input, def } of this.#inputs.values()) {
      const seconds = Number(policy[def.key]);
      const text = Number.isFinite(seconds) ? formatUnits(seconds / def.unit) : '';
      input.value = text;
      input.removeAttribute('aria-invalid');
      this.#shown[def.key] = text;
      this.#updateEquiv(def);
    }
  }

  #updateEquiv(def) {
    const { input, equiv } = this.#inputs.get(def.key);
    if (!equiv) return;
    const n = input.value === '' ? NaN : Number(input.value);
    equiv.textContent = Number.isFinite(n) && n >= 0
      ? `= ${humanDuration(n * def.unit, { zeroIs: def.zeroIsNever ? t('admin.policy.never') : undefined })}`
      : '';
  }

  // #read turns the inputs into a policy in seconds, or reports the first
  // input that is not a usable number. Values the user did not touch are
  // sent exactly as stored, so a rounding in the display never changes them.
  #read() {
    const policy = {};
    for (const { input, def } of this.#inputs.values()) {
      if (input.value === this.#shown[def.key] && Number.isFinite(Number(this.#stored[def.key]))) {
        policy[def.key] = Number(this.#stored[def.key]);
        continue;
      }
      const { label, range } = words(def);
      const raw = input.value.trim();
      const n = raw === '' ? NaN : Number(raw);
      if (!Number.isFinite(n)) return { problem: t('admin.policy.needNumber', { label }), input };
      if (n < 0) return { problem: t('admin.policy.negative', { label }), input };
      if (def.integer && !Number.isInteger(n)) return { problem: t('admin.policy.whole', { label }), input };
      // The limits the hint states, checked here so Save never fails on a
      // rule the form did not show (the server checks them again). The
      // smallest values are rounded in the hint, so compare in seconds.
      const seconds = Math.round(n * def.unit);
      const low = Math.round(def.min * def.unit);
      if (!(def.zeroIsNever && n === 0) && (seconds < low || n > def.max)) {
        return { problem: t('admin.policy.outOfRange', { label, range }), input };
      }
      policy[def.key] = Math.round(n * def.unit);
    }
    return { policy };
  }

  async #save() {
    if (this.#busy) return;
    const { policy, problem, input } = this.#read();
    if (problem) {
      this.#message.error(problem);
      invalid(input);
      this.#ctx.changed();
      return;
    }
    this.#busy = true;
    this.#form.setAttribute('aria-busy', 'true');
    this.#message.clear();
    try {
      const stored = await this.#ctx.api.setPolicy(policy);
      this.#fill(stored && Object.keys(stored).length ? stored : policy);
      this.#message.show(t('admin.policy.saved'), { tone: 'success', clearAfter: 8000 });
    } catch (err) {
      if (this.#ctx.failed(err)) return;
      this.#message.error(describeError(err));
    } finally {
      this.#busy = false;
      this.#form.removeAttribute('aria-busy');
      this.#ctx.changed();
    }
  }
}

// formatUnits shows a number with at most four decimals and no trailing zeros.
function formatUnits(n) {
  return String(Math.round(n * 10000) / 10000);
}
