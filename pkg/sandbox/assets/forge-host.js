// The host-page side of the sandbox's Forge mode, served at
// /dev/forge/host.js to its Forge pages: it sizes each Custom UI frame to
// the height its bridge stand-in reports. A message counts only when it
// comes from one of this page's Forge frames (event.source) and from this
// origin, where the sandbox serves them.
(function () {
  'use strict';

  const MIN_HEIGHT = 32;
  const MAX_HEIGHT = 10000;

  window.addEventListener('message', (event) => {
    if (event.origin !== window.location.origin) return;
    const msg = event.data;
    if (!msg || typeof msg !== 'object' || msg.type !== 'secrets-forge:resize') return;
    for (const f of document.querySelectorAll('iframe.forge-frame')) {
      if (f.contentWindow !== event.source) continue;
      const h = Number(msg.height);
      if (Number.isFinite(h)) {
        f.style.height = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, Math.ceil(h))) + 'px';
      }
    }
  });
})();
