// The admin page. A placeholder until the admin UI is built: it says what
// the page is for and keeps the iframe sized.

import { h, replaceChildren } from './dom.js';

/**
 * mountAdmin renders the admin page into root.
 *
 * @param {HTMLElement} root
 * @param {{host: import('./host.js').Host}} deps
 */
export function mountAdmin(root, { host }) {
  root.classList.add('admin');
  replaceChildren(root,
    h('header', { class: 'app-header' },
      h('div', { class: 'app-title' }, h('h1', { text: 'Secrets administration' }))),
    h('p', { text: 'Settings for Secrets on this site, such as the password policy and lockouts, will be managed here. '
      + 'Secrets themselves are added and unlocked in the Secrets panel of an issue or the Secrets macro of a page.' }),
  );
  host.resize();
}
