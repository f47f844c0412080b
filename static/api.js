// Client of the JSON API under /api/.
//
// The container (issue or macro) is bound into the session token by the
// server, so no call names an issue or page: the browser could not choose a
// different container even if it tried.
//
// The transport seam: Api and AdminApi make every call through one object
// with a single method, request(method, path, opts) (see Transport below),
// and know nothing else about how a call reaches the server. Connect pages
// use Transport (fetch with the session token); Forge Custom UI uses
// ForgeTransport (forge-transport.js: @forge/bridge invokeRemote). The UI
// modules are the same in both modes.

import { SessionExpiredError } from './session.js';

const API_BASE = '/api';

// Unlocking runs a deliberately slow key derivation that may queue behind
// others, so allow a generous time before calling it a network failure.
const TIMEOUT_MS = 60 * 1000;

/**
 * ApiError is every failure the API client reports.
 *
 * code is one of the server's codes (invalid, too_large, unauthorized,
 * forbidden, not_found, conflict, wrong_password, locked, unlock_required,
 * unavailable, internal, …) or one of the client's own: "network" (no
 * answer) and "session_expired" (the session token could not be renewed).
 * message is the server's sentence, safe to show, or "".
 */
export class ApiError extends Error {
  constructor(code, message = '', { status = 0, retryAfter, attemptsLeft } = {}) {
    super(message || code);
    this.name = 'ApiError';
    this.code = code;
    this.serverMessage = message;
    this.status = status;
    this.retryAfter = retryAfter;
    this.attemptsLeft = attemptsLeft;
  }
}

/**
 * Transport is the Connect transport. It makes authenticated calls to /api/: the session token goes in
 * "Authorization: JWT …", the session is refreshed before it runs out, a
 * refused token is renewed once and the call retried, and every failure
 * becomes an ApiError with the server's code. Api and AdminApi share it.
 */
export class Transport {
  #session;

  /** @param {import('./session.js').Session} session */
  constructor(session) {
    this.#session = session;
  }

  /**
   * request calls method path (under /api) and resolves to {data, date}, or
   * {res, date} with raw: true (for downloads). Every transport implements
   * this one method with these options and results; failures reject with an
   * ApiError.
   */
  async request(method, path, { body, unlockToken, keepalive = false, raw = false, accept = 'application/json', retried = false } = {}) {
    try {
      await this.#session.ensureFresh();
    } catch (err) {
      if (err instanceof SessionExpiredError) throw sessionExpired();
      // A network failure while refreshing: go on with the current token,
      // which is usually still valid for another two minutes.
    }

    const headers = { Authorization: `JWT ${this.#session.token}`, Accept: accept };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (unlockToken) headers['X-Unlock-Token'] = unlockToken;

    let res;
    try {
      res = await fetch(API_BASE + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // Answers may carry secret content: keep them out of every cache.
        cache: 'no-store',
        credentials: 'same-origin',
        redirect: 'error',
        keepalive,
        signal: keepalive ? undefined : timeoutSignal(TIMEOUT_MS),
      });
    } catch {
      throw new ApiError('network');
    }

    if (!res.ok) {
      const err = await readError(res);
      // The token was refused: it may have expired between our refresh and
      // this request (sleep, throttled timers). Renew once and try again; a
      // 401 means nothing was done, so retrying a POST is safe.
      if (err.code === 'unauthorized' && !retried) {
        try {
          await this.#session.refresh();
        } catch (refreshErr) {
          throw refreshErr instanceof SessionExpiredError ? sessionExpired() : new ApiError('network');
        }
        return this.request(method, path, { body, unlockToken, keepalive, raw, accept, retried: true });
      }
      throw err;
    }

    const date = res.headers.get('Date');
    if (raw) return { res, date };
    if (res.status === 204) return { data: null, date };
    try {
      return { data: await res.json(), date };
    } catch {
      // A 2xx that is not JSON came from something other than our server.
      throw new ApiError('internal', '', { status: res.status });
    }
  }
}

/**
 * Api calls the secrets routes with the session's token.
 *
 * Responses that carry an unlock get a `lockAt` (local epoch ms) computed
 * from the server's expiresAt and Date header, so the automatic re-lock is
 * right even when the browser's clock is not.
 */
/** MAX_LIST_PAGES bounds one list: 500 secrets per container at most, 100 a page. */
const MAX_LIST_PAGES = 10;

export class Api {
  #t;

  /** @param {import('./session.js').Session | {request: Function}} via a Session (Connect) or a transport */
  constructor(via) {
    this.#t = transportFor(via);
  }

  /**
   * listSecrets → [metadata…], oldest first: every page of the container's
   * list. The site's cap on secrets per container keeps that a page or a
   * few; MAX_LIST_PAGES stops a server that keeps naming a next page.
   */
  async listSecrets() {
    const all = [];
    let after = '';
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const path = after ? `/secrets?after=${encodeURIComponent(after)}` : '/secrets';
      const { data } = await this.#t.request('GET', path);
      if (Array.isArray(data && data.secrets)) all.push(...data.secrets);
      after = data && typeof data.next === 'string' ? data.next : '';
      if (!after) break;
    }
    return all;
  }

  /**
   * createSecret stores a new secret → its metadata. expiresAt (a Date,
   * optional) is when it self-destructs; without it the site's default
   * expiry applies.
   */
  async createSecret({ title, content, password, expiresAt }) {
    const body = { title, content, password };
    if (expiresAt) body.expiresAt = expiresAt.toISOString();
    const { data } = await this.#t.request('POST', '/secrets', { body });
    return data;
  }

  #policy = null;

  /**
   * policy → the site's rules for the forms: {minPasswordLength,
   * defaultExpirySeconds, expiryChoicesSeconds}. Asked once per page; a
   * failed call is asked again next time.
   */
  policy() {
    if (!this.#policy) {
      this.#policy = this.#t.request('GET', '/policy').then(({ data }) => data);
      this.#policy.catch(() => { this.#policy = null; });
    }
    return this.#policy;
  }

  /** unlockSecret → metadata + content, unlockToken, expiresAt, lockAt. */
  async unlockSecret(id, password) {
    const res = await this.#t.request('POST', `${secretPath(id)}/unlock`, { body: { password } });
    return withLockAt(res);
  }

  /**
   * updateSecret saves title and content over `version` → a fresh unlock,
   * like unlockSecret. expiresAt: undefined keeps the secret's expiry, null
   * removes it, a Date sets it.
   */
  async updateSecret(id, unlockToken, { title, content, version, expiresAt }) {
    const body = { title, content, version };
    if (expiresAt === null) body.expiresAt = 'never';
    else if (expiresAt) body.expiresAt = expiresAt.toISOString();
    const res = await this.#t.request('PUT', secretPath(id), { unlockToken, body });
    return withLockAt(res);
  }

  /**
   * changePassword sets a new password for the secret → unlockToken,
   * expiresAt, lockAt: the old password's tokens (this one too) are dead.
   */
  async changePassword(id, unlockToken, password) {
    const res = await this.#t.request('PUT', `${secretPath(id)}/password`, { unlockToken, body: { password } });
    return withLockAt(res);
  }

  /** deleteSecret removes the secret. */
  async deleteSecret(id, unlockToken) {
    await this.#t.request('DELETE', secretPath(id), { unlockToken });
  }

  /**
   * lockSecret revokes an unlock token. keepalive lets the request outlive
   * the page, for locking on pagehide.
   */
  async lockSecret(id, unlockToken, { keepalive = false } = {}) {
    await this.#t.request('POST', `${secretPath(id)}/lock`, { unlockToken, keepalive });
  }
}

/**
 * transportFor returns via itself when it is a transport (it has request),
 * else a Connect Transport over via as the session.
 */
export function transportFor(via) {
  return via && typeof via.request === 'function' ? via : new Transport(via);
}

/** sessionExpired is the error of a session that cannot be renewed. */
export function sessionExpired() {
  return new ApiError('session_expired', '', { status: 401 });
}

function secretPath(id) {
  return `/secrets/${encodeURIComponent(id)}`;
}

function timeoutSignal(ms) {
  return typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(ms) : undefined;
}

/**
 * readError turns an error response into an ApiError. Bodies that are not
 * our JSON error shape (a proxy's HTML page, say) become a code chosen by
 * status, with no server message.
 */
async function readError(res) {
  let payload = null;
  try {
    payload = await res.json();
  } catch {
    // not JSON
  }
  return errorFrom(res.status, payload, (name) => res.headers.get(name));
}

/**
 * errorFrom builds the ApiError of a non-2xx answer from its status, its
 * parsed body (or null) and a header lookup, whichever transport brought it.
 */
export function errorFrom(status, payload, header) {
  const e = payload && typeof payload === 'object' ? payload.error : null;
  let code = e && typeof e.code === 'string' ? e.code : fallbackCode(status);
  const message = e && typeof e.message === 'string' ? e.message : '';
  let retryAfter = e && Number.isFinite(e.retryAfter) ? e.retryAfter : undefined;
  if (retryAfter === undefined && (status === 429 || status === 503)) {
    const value = Number.parseInt(header('Retry-After') || '', 10);
    if (Number.isFinite(value)) retryAfter = value;
  }
  const attemptsLeft = e && Number.isInteger(e.attemptsLeft) ? e.attemptsLeft : undefined;
  if (status === 401 && !e) code = 'unauthorized';
  return new ApiError(code, message, { status, retryAfter, attemptsLeft });
}

function fallbackCode(status) {
  switch (status) {
    case 400: return 'invalid';
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'not_found';
    case 409: return 'conflict';
    case 413: return 'too_large';
    case 415: return 'unsupported_media_type';
    case 429: return 'locked';
    case 502:
    case 503:
    case 504: return 'unavailable';
    default: return 'internal';
  }
}

// withLockAt adds lockAt: when the unlock ends, on the local clock. The
// remaining time is measured on the server's clock (expiresAt − Date), so
// a browser clock that is off does not shorten or stretch it.
function withLockAt({ data, date }) {
  const expires = Date.parse(data && data.expiresAt);
  let serverNow = Date.parse(date || '');
  if (Number.isNaN(serverNow)) serverNow = Date.now();
  let remaining = expires - serverNow;
  if (!Number.isFinite(remaining)) remaining = DEFAULT_UNLOCK_MS;
  return { ...data, lockAt: Date.now() + Math.max(0, remaining) };
}

// The server's default unlock lifetime, used only when a response lacks a
// readable expiresAt, so the view still locks itself eventually.
const DEFAULT_UNLOCK_MS = 10 * 60 * 1000;
