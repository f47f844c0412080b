// The Custom UI bundle's entry (bundled by ../build.mjs, not served as is).
//
// @forge/bridge reads globalThis.__bridge when its modules are first
// evaluated and throws if the frame's bridge is not there yet. So the
// bridge is imported only once __bridge.callBridge exists: esbuild turns
// this dynamic import into an in-bundle require, evaluated on demand.
// Atlassian's frame defines __bridge before the app's scripts run; the
// short wait covers a stand-in that arrives a little later (BRIDGE.md).

import { showBridgeFailure, startForge } from '../../static/forge-app.js';

const WAIT_MS = 10 * 1000;
const POLL_MS = 25;

function bridgePresent() {
  const b = globalThis.__bridge;
  return Boolean(b && typeof b.callBridge === 'function');
}

function waitForBridge() {
  if (bridgePresent()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const until = Date.now() + WAIT_MS;
    const timer = setInterval(() => {
      if (bridgePresent() || Date.now() > until) {
        clearInterval(timer);
        resolve(bridgePresent());
      }
    }, POLL_MS);
  });
}

async function main() {
  if (!(await waitForBridge())) {
    showBridgeFailure();
    return;
  }
  const { invokeRemote, view, showFlag } = await import('@forge/bridge');
  await startForge({ invokeRemote, view, showFlag });
}

main().catch(() => showBridgeFailure());
