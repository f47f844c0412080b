// Entry point of the browser app, loaded by page.html as a module after
// Atlassian's all.js.
//
// The server renders what the app needs into <meta> tags: the session token,
// the user's account id, which module this is (issue panel, macro, admin
// page), the product and a label. Which issue or page the secrets belong to
// is not among them: it is bound into the token on the server. The user's
// language and time zone are: the host appends them to the frame's URL as
// loc and tz, and they only change how the page reads.

import { mountAdmin } from './admin.js';
import { Api } from './api.js';
import { useHostLocale } from './format.js';
import { Host } from './host.js';
import { SecretsView } from './secrets-view.js';
import { Session } from './session.js';

function meta(name) {
  const el = document.querySelector(`meta[name="${name}"]`);
  return el ? el.content : '';
}

function main() {
  // Before anything renders: every view reads its words at render time.
  const query = new URLSearchParams(window.location.search);
  useHostLocale(query.get('loc'), query.get('tz'));

  const root = document.getElementById('app');
  const host = new Host({ product: meta('product'), accountId: meta('account-id') });
  host.watchSize();

  if (meta('kind') === 'admin') {
    mountAdmin(root, { host });
    root.removeAttribute('aria-busy');
    return;
  }

  // The session reports its end through the view, which does not exist yet
  // when the session is created; an empty token ends it at once.
  let view = null;
  const session = new Session(meta('token'), { onExpired: () => view && view.sessionExpired() });
  view = new SecretsView(root, { api: new Api(session), host, label: meta('label'), name: meta('macro-name') });
  if (session.expired) {
    view.sessionExpired();
    root.removeAttribute('aria-busy');
    return;
  }
  view.load();
}

main();
