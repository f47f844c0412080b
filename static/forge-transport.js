// The Forge transport: the same calls as Transport (api.js), made through
// the Custom UI bridge instead of fetch.
//
// In a Forge Custom UI frame the browser cannot reach our server directly.
// @forge/bridge's invokeRemote({path, method, headers, body}) asks the Forge
// platform to call the app's remote (our server, the manifest's "backend"
// remote) with a fresh Forge Invocation Token, and resolves to
// {status, headers, body}. There is no session token to keep fresh: every
// call carries its own token, minted by the platform.
//
// Paths. The server serves the Connect API's routes again under /forge/
// (pkg/server/forge.go):
//   /api/secrets…        → /forge/api/secrets…
//   /api/admin/…         → /forge/api/admin/…
// so this transport prefixes every path with FORGE_API, and the UI modules
// (Api, AdminApi) stay the same for both modes. invokeRemote resolves the
// path against the remote's baseUrl by the URL Standard's rules: an
// absolute path replaces any path the baseUrl has, so the remote's baseUrl
// is the server's origin (forge.md §1).
//
// What the platform does with answers (Atlassian's invokeRemote reference,
// checked against @forge/bridge 7.2.0's source; marked where only a real
// site can tell):
//   - body is sent as JSON (the platform applies JSON.stringify), so it is
//     passed as an object, not a string;
//   - a 2xx or non-2xx answer resolves to {status, headers, body}, with
//     header names as the remote sent them (lower case over HTTP/2) and
//     repeated headers joined by ",";
//   - a 401 rejects: the platform keeps it for a token it could not get
//     verified. There is nothing the page can do about it but reload;
//   - a non-JSON 2xx body (the audit CSV) arrives as a string — unverified.

import { ApiError, errorFrom, sessionExpired } from './api.js';

/** FORGE_API is the prefix of every Forge route the UI calls. */
export const FORGE_API = '/forge/api';

// The platform gives a UI call 25 s; wait a little longer before calling it
// a network failure, so the platform's own answer wins.
const TIMEOUT_MS = 30 * 1000;

/**
 * ForgeTransport makes the API calls through invokeRemote. Its request has
 * the same options and results as Transport's; keepalive is ignored (a
 * bridge call cannot outlive the page).
 */
export class ForgeTransport {
  #invokeRemote;
  #timeoutMs;

  /**
   * @param {(input: {path: string, method: string, headers?: Record<string, string>, body?: unknown}) => Promise<any>} invokeRemote
   *   @forge/bridge's invokeRemote, or a stand-in with the same contract
   * @param {{timeoutMs?: number}} [opts]
   */
  constructor(invokeRemote, { timeoutMs = TIMEOUT_MS } = {}) {
    if (typeof invokeRemote !== 'function') throw new TypeError('ForgeTransport needs invokeRemote');
    this.#invokeRemote = invokeRemote;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * request calls method path (under /forge/api) and resolves to
   * {data, date}, or {res, date} with raw: true, res being a Response built
   * from the answer (for downloads).
   */
  async request(method, path, { body, unlockToken, raw = false, accept = 'application/json' } = {}) {
    const headers = { Accept: accept };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (unlockToken) headers['X-Unlock-Token'] = unlockToken;
    const input = { path: FORGE_API + path, method, headers };
    if (body !== undefined) input.body = body;

    let answer;
    try {
      answer = await withTimeout(this.#invokeRemote(input), this.#timeoutMs);
    } catch (err) {
      // The bridge rejects for a 401 (a token the remote refused) and for
      // everything that never reached the remote. Only the first ends the
      // page's usefulness; the message is all that tells them apart.
      if (isTokenRefusal(err)) throw sessionExpired();
      throw new ApiError('network');
    }
    if (!answer || typeof answer !== 'object' || !Number.isInteger(answer.status)) {
      throw new ApiError('network');
    }

    const status = answer.status;
    const header = headerLookup(answer.headers);
    const date = header('Date');
    if (status === 401) throw sessionExpired();
    if (status < 200 || status > 299) {
      throw errorFrom(status, parseBody(answer.body), header);
    }
    if (raw) return { res: toResponse(status, answer, header), date };
    if (status === 204 || answer.body === undefined || answer.body === null || answer.body === '') {
      return { data: null, date };
    }
    const data = parseBody(answer.body);
    if (data === null || typeof data !== 'object') {
      // A 2xx that is not JSON came from something other than our server.
      throw new ApiError('internal', '', { status });
    }
    return { data, date };
  }
}

// isTokenRefusal tells the bridge's rejection for a 401 from the remote
// ("Remote could not verify the Forge Invocation Token") from the others.
function isTokenRefusal(err) {
  const text = String((err && err.message) || err || '');
  return /\b401\b|invocation token/i.test(text);
}

// headerLookup returns a case-insensitive lookup over the answer's headers,
// whose values may be strings or (from older bridges) arrays of strings.
function headerLookup(headers) {
  const map = new Map();
  if (headers && typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers)) {
      const v = Array.isArray(value) ? value.join(',') : value;
      if (typeof v === 'string') map.set(name.toLowerCase(), v);
    }
  }
  return (name) => map.get(String(name).toLowerCase()) || null;
}

// parseBody returns the body as a value: already parsed by the bridge, or
// JSON text; null when it is neither.
function parseBody(body) {
  if (typeof body !== 'string') return body === undefined ? null : body;
  try {
    return JSON.parse(body);
  } catch {
    return null;
  }
}

// toResponse wraps a raw answer as a Response, so callers read a download
// the same way in both modes.
function toResponse(status, answer, header) {
  const body = answer.body;
  const text = typeof body === 'string' ? body : body === undefined || body === null ? '' : JSON.stringify(body);
  const headers = new Headers();
  for (const name of ['Content-Type', 'Content-Disposition', 'Date']) {
    const v = header(name);
    if (v) headers.set(name, v);
  }
  return new Response(status === 204 ? null : text, { status, headers });
}

function withTimeout(promise, ms) {
  let timer = 0;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms);
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}
