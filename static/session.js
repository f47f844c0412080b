// The session token: the credential the page was rendered with, kept fresh.
//
// The server mints a short-lived token (≤ 15 min) into <meta name="token">.
// A still-valid token can be exchanged for a fresh one, so we refresh about
// two minutes before expiry. The token's payload is decoded only to schedule
// that refresh: the browser never trusts or checks its claims, the server
// does. The token lives in memory only, never in Web Storage.

const REFRESH_URL = '/api/session/refresh';
const REFRESH_MARGIN_MS = 2 * 60 * 1000;
const MIN_DELAY_MS = 5 * 1000;
const RETRY_AFTER_NETWORK_ERROR_MS = 30 * 1000;

/** SessionExpiredError: the token can no longer be refreshed; only a reload helps. */
export class SessionExpiredError extends Error {
  constructor() {
    super('session expired');
    this.name = 'SessionExpiredError';
  }
}

/**
 * Session holds the current token and refreshes it.
 *
 * Timers are not enough on their own: background tabs throttle them and a
 * sleeping laptop stops them. So each request first calls ensureFresh(),
 * which refreshes when the planned refresh time has passed, and a tab that
 * becomes visible again does the same.
 */
export class Session {
  #token;
  #refreshAt = Infinity; // local epoch ms at which to refresh
  #timer = 0;
  #inflight = null;
  #expired = false;
  #onExpired;

  /**
   * @param {string} token the token from <meta name="token">
   * @param {{onExpired?: () => void}} [opts] onExpired runs once, when refreshing fails for good
   */
  constructor(token, { onExpired } = {}) {
    this.#token = token;
    this.#onExpired = onExpired || (() => {});
    if (!token) {
      this.#expire();
      return;
    }
    this.#plan(token, null, null);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.ensureFresh().catch(() => {});
    });
  }

  /** token is the current session token. */
  get token() {
    return this.#token;
  }

  /** expired reports whether the session is over (refresh failed for good). */
  get expired() {
    return this.#expired;
  }

  /** ensureFresh refreshes the token first if its planned refresh is overdue. */
  async ensureFresh() {
    if (this.#expired) throw new SessionExpiredError();
    if (Date.now() >= this.#refreshAt) await this.refresh();
  }

  /**
   * refresh exchanges the token for a fresh one. Concurrent callers share one
   * request. Rejects with SessionExpiredError when the server refuses (the
   * session is then over), or with a TypeError on a network failure (the
   * session may still be fine; a retry is planned).
   */
  refresh() {
    if (this.#expired) return Promise.reject(new SessionExpiredError());
    if (!this.#inflight) {
      this.#inflight = this.#exchange().finally(() => {
        this.#inflight = null;
      });
    }
    return this.#inflight;
  }

  async #exchange() {
    let res;
    try {
      res = await fetch(REFRESH_URL, {
        method: 'POST',
        headers: { Authorization: `JWT ${this.#token}`, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'same-origin',
        redirect: 'error',
      });
    } catch (err) {
      this.#retryIn(RETRY_AFTER_NETWORK_ERROR_MS);
      throw err;
    }
    // 5xx or 429: the server is busy or in trouble; the token may still be good.
    if (res.status >= 500 || res.status === 429) {
      this.#retryIn(RETRY_AFTER_NETWORK_ERROR_MS);
      throw new TypeError(`session refresh: HTTP ${res.status}`);
    }
    let body = null;
    if (res.ok) body = await res.json().catch(() => null);
    if (!body || typeof body.token !== 'string' || body.token === '') {
      this.#expire();
      throw new SessionExpiredError();
    }
    this.#token = body.token;
    this.#plan(body.token, body.expiresAt, res.headers.get('Date'));
  }

  // #plan schedules the next refresh from the token's lifetime. Lifetime is
  // exp − iat when the payload has both: that difference is immune to a
  // wrong clock in the browser. Otherwise exp (or the response's expiresAt)
  // is compared with the server's Date header, and only as a last resort
  // with the local clock.
  #plan(token, expiresAt, serverDate) {
    const claims = decodeClaims(token);
    let lifetime = NaN;
    if (claims && Number.isFinite(claims.exp) && Number.isFinite(claims.iat) && claims.exp > claims.iat) {
      lifetime = (claims.exp - claims.iat) * 1000;
    } else {
      const exp = claims && Number.isFinite(claims.exp) ? claims.exp * 1000 : Date.parse(expiresAt);
      const now = serverDate ? Date.parse(serverDate) : Date.now();
      lifetime = exp - (Number.isNaN(now) ? Date.now() : now);
    }
    if (!Number.isFinite(lifetime)) {
      // Unknown expiry: rely on the 401 → refresh → retry path in the API.
      this.#refreshAt = Infinity;
      clearTimeout(this.#timer);
      return;
    }
    const delay = Math.max(lifetime - REFRESH_MARGIN_MS, lifetime / 2, MIN_DELAY_MS);
    this.#retryIn(delay);
  }

  #retryIn(delay) {
    clearTimeout(this.#timer);
    this.#refreshAt = Date.now() + delay;
    this.#timer = setTimeout(() => this.refresh().catch(() => {}), delay);
  }

  #expire() {
    if (this.#expired) return;
    this.#expired = true;
    this.#refreshAt = Infinity;
    clearTimeout(this.#timer);
    this.#onExpired();
  }
}

/**
 * decodeClaims returns a JWT's payload as an object, or null when it is not
 * a decodable JWT. For scheduling only: the signature is not (and cannot be)
 * checked here.
 */
export function decodeClaims(token) {
  try {
    const part = String(token).split('.')[1];
    if (!part) return null;
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}
