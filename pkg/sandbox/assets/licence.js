// The sandbox index page's licence switch: POST /dev/licence, then reload
// so the page (and every module URL signed after it) shows the new state.
(function () {
  'use strict';
  const button = document.getElementById('sandbox-licence-toggle');
  const state = document.getElementById('sandbox-licence');
  if (!button || !state) return;
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const res = await fetch(state.dataset.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ active: state.dataset.active !== 'true' }),
      });
      if (res.ok) window.location.reload();
    } finally {
      button.disabled = false;
    }
  });
})();
