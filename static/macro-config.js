// The Forge macro's configuration: the form Confluence shows when an author
// inserts or edits the macro (the manifest's config resource). It sets the
// one setting a macro has, its optional name, shown as its heading
// (secrets-view.js). The Connect macro gets the same through its "Name"
// parameter, which Confluence's own macro browser edits.
//
// The name is page content any editor can change and any reader sees, never
// a secret; Confluence keeps it with the macro (context.extension.config).

import { field, h } from './dom.js';
import { MessageArea, actionRow, onEscape, textInput } from './forms.js';
import { t } from './i18n.js';

/** MAX_NAME_CHARS is the longest name the heading shows (as forge-app.js cuts). */
export const MAX_NAME_CHARS = 100;

/**
 * mountMacroConfig renders the form into root. view is @forge/bridge's
 * view: submit({config}) saves the configuration and closes the editor,
 * close() leaves it unchanged.
 *
 * @param {HTMLElement} root
 * @param {{view: {submit: Function, close?: Function}, name: string}} deps
 *   name: the macro's current name
 */
export function mountMacroConfig(root, { view, name }) {
  const input = textInput({ maxlength: String(MAX_NAME_CHARS), value: name });
  const message = new MessageArea();
  const cancel = () => {
    if (typeof view.close === 'function') view.close().catch(() => {});
  };
  const form = h('form', { class: 'macro-config', novalidate: '' },
    field(t('panel.config.name'), input, { hint: t('panel.config.hint', { count: MAX_NAME_CHARS }) }),
    message.el,
    actionRow({ submit: t('panel.form.save'), onCancel: cancel }));
  onEscape(form, cancel);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const next = input.value.trim().replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, MAX_NAME_CHARS);
    try {
      await view.submit({ config: { name: next } });
      message.show(t('panel.config.saved'), { tone: 'success' });
    } catch {
      message.error(t('panel.config.failed'), { action: { label: t('panel.list.retry'), run: () => form.requestSubmit() } });
    }
  });
  root.replaceChildren(form);
  root.removeAttribute('aria-busy');
  input.focus();
}

