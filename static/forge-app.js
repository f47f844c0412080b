// Entry point of the browser app in a Forge Custom UI frame: the Forge
// counterpart of app.js, with the same views behind the Forge transport.
//
// The bundle built by forge/build.mjs calls startForge with @forge/bridge;
// this module imports nothing that exists only in Forge, so it is an
// ordinary ES module like the rest of static/. What differs from Connect:
//   - the page is static (Atlassian hosts it): which product and module
//     this is comes from view.getContext()'s extension.type, and from
//     <meta name="kind"> and <meta name="product"> (written into each
//     resource's index.html at build time) when the context does not name a
//     module we know;
//   - the user and the issue or page come from view.getContext(), for
//     display only: the server takes them from the signed invocation token;
//     so do the user's language and time zone (locale, timezone);
//   - calls go through invokeRemote (ForgeTransport), which needs no session;
//   - view.theme.enable() lets Atlassian's design tokens follow the host's
//     light or dark theme.
// There is no window.AP: Host then skips resizing (the platform sizes Custom
// UI frames itself) and names other users "another user".

import { mountAdmin } from './admin.js';
import { AdminApi } from './admin-api.js';
import { Api } from './api.js';
import { ForgeTransport } from './forge-transport.js';
import { useHostLocale } from './format.js';
import { Host } from './host.js';
import { t } from './i18n.js';
import { mountMacroConfig } from './macro-config.js';
import { SecretsView } from './secrets-view.js';

const MAX_LABEL_CHARS = 100;

/**
 * startForge mounts the app into #app.
 *
 * @param {{invokeRemote: Function, showFlag?: Function, view: {getContext: () => Promise<any>, submit?: Function, close?: Function, theme?: {enable: () => Promise<void>}}}} bridge
 *   the parts of @forge/bridge the app uses
 * @returns {Promise<void>} settles once the app is mounted
 */
export async function startForge(bridge) {
  const root = document.getElementById('app');

  // Theming is cosmetic: a bridge without it must not stop the app.
  try {
    if (bridge.view.theme && typeof bridge.view.theme.enable === 'function') await bridge.view.theme.enable();
  } catch {
    // keep the default (light) look
  }

  let context = null;
  try {
    context = await bridge.view.getContext();
  } catch {
    // Without a context the app still works: the server knows who and
    // where from the invocation token; only "you" and the label are lost.
  }

  // Before anything renders: every view reads its words at render time.
  useHostLocale(context && context.locale, context && context.timezone);

  const known = moduleOf(context);
  // The config resource's context names the macro (extension.type
  // "macro"); only its page knows it is the configuration form.
  const kind = meta('kind') === 'macro-config' ? 'macro-config' : known ? known.kind : meta('kind');
  const product = known ? known.product : meta('product');

  const host = new Host({ product, accountId: accountIdOf(context), showFlag: bridge.showFlag });
  host.watchSize();
  const transport = new ForgeTransport(bridge.invokeRemote);

  if (kind === 'macro-config') {
    // The macro's configuration form: no remote calls, only view.submit.
    mountMacroConfig(root, { view: bridge.view, name: macroNameOf(context) });
    return;
  }
  if (kind === 'admin') {
    mountAdmin(root, { host, api: new AdminApi(transport) });
    root.removeAttribute('aria-busy');
    return;
  }
  const view = new SecretsView(root, { api: new Api(transport), host, label: labelOf(product, context), name: macroNameOf(context) });
  view.load();
}

/**
 * showBridgeFailure replaces the loading text when the bridge is missing,
 * so a page opened outside Atlassian says why it does nothing.
 */
export function showBridgeFailure() {
  const root = document.getElementById('app');
  if (!root) return;
  const p = document.createElement('p');
  p.className = 'boot';
  p.setAttribute('role', 'alert');
  p.textContent = t('common.boot.bridgeFailure');
  root.replaceChildren(p);
  root.removeAttribute('aria-busy');
}

function meta(name) {
  const el = document.querySelector(`meta[name="${name}"]`);
  return el ? el.content : '';
}

function accountIdOf(context) {
  const id = context && context.accountId;
  return typeof id === 'string' ? id : '';
}

// MODULES maps the module types of our manifests (a context's
// extension.type) to the product and the kind of page.
const MODULES = new Map([
  ['jira:issuePanel', { product: 'jira', kind: 'issue-panel' }],
  ['jira:adminPage', { product: 'jira', kind: 'admin' }],
  ['macro', { product: 'confluence', kind: 'macro' }],
  ['confluence:globalSettings', { product: 'confluence', kind: 'admin' }],
]);

/**
 * moduleOf returns {product, kind} for the module a context names, or null
 * when it names none of ours. Display and routing in the page only: the
 * server admits each call by the module in its signed token.
 */
export function moduleOf(context) {
  const type = context && context.extension && context.extension.type;
  return (typeof type === 'string' && MODULES.get(type)) || null;
}

/**
 * labelOf describes where the secrets live, from the context the bridge
 * gave: the issue key in Jira, the page in Confluence. Display only.
 */
export function labelOf(product, context) {
  const ext = (context && context.extension) || {};
  let label = '';
  if (product === 'jira') {
    const issue = ext.issue || {};
    label = str(issue.key) || (str(issue.id) && t('common.label.issue', { id: str(issue.id) }));
  } else if (product === 'confluence') {
    const content = ext.content || {};
    label = str(content.id) && t('common.label.page', { id: str(content.id) });
  }
  return label.length > MAX_LABEL_CHARS ? label.slice(0, MAX_LABEL_CHARS) : label;
}

/**
 * macroNameOf is the name a Confluence macro was given in its config
 * (the manifest's config field "name"), or "". Display only, as text.
 */
export function macroNameOf(context) {
  const config = context && context.extension && context.extension.config;
  const name = config && typeof config === 'object' ? str(config.name) : '';
  return name.length > MAX_MACRO_NAME_CHARS ? name.slice(0, MAX_MACRO_NAME_CHARS) : name;
}

// MAX_MACRO_NAME_CHARS matches the server's cut of a Connect macro's name.
const MAX_MACRO_NAME_CHARS = 100;

function str(v) {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return typeof v === 'string' ? v.trim() : '';
}
