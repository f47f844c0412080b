// The host-page side of the sandbox's Forge mode, served at
// /dev/forge/host.js to its Forge pages: it sizes each Custom UI frame to
// the height its bridge stand-in reports, shows the flags they raise
// (showFlag) through host.js, and tells the frames that enabled
// theming (view.theme.enable()) the page's theme, now and whenever the
// toggle of host.js changes it. A message counts only when it comes from
// one of this page's Forge frames (event.source) and from this origin,
// where the sandbox serves them.
(function () {
  'use strict';

  const MIN_HEIGHT = 32;
  const MAX_HEIGHT = 10000;
  const root = document.documentElement;
  const themed = new Set();

  function frameOf(source) {
    for (const f of document.querySelectorAll('iframe.forge-frame')) {
      if (f.contentWindow === source) return f;
    }
    return null;
  }

  function sendTheme(f) {
    if (!f.isConnected || !f.contentWindow) {
      themed.delete(f);
      return;
    }
    const theme = root.dataset.colorMode === 'dark' ? 'dark' : 'light';
    f.contentWindow.postMessage({ type: 'secrets-forge:theme', theme: theme }, window.location.origin);
  }

  window.addEventListener('message', (event) => {
    if (event.origin !== window.location.origin) return;
    const msg = event.data;
    if (!msg || typeof msg !== 'object') return;
    const f = frameOf(event.source);
    if (!f) return;
    switch (msg.type) {
      case 'secrets-forge:resize': {
        const h = Number(msg.height);
        if (Number.isFinite(h)) {
          f.style.height = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, Math.ceil(h))) + 'px';
        }
        break;
      }
      case 'secrets-forge:flag':
        // Shown by host.js, like AP.flag.create's (text only, clipped).
        if (window.sandboxFlags) window.sandboxFlags.show(f, msg.flag);
        break;
      case 'secrets-forge:theming':
        themed.add(f);
        sendTheme(f);
        break;
      default:
        break;
    }
  });

  new MutationObserver(() => themed.forEach(sendTheme)).observe(root, { attributes: true, attributeFilter: ['data-color-mode'] });
})();
