// Client of the site-admin API under /api/admin/, on the same transport as
// the rest of the app (api.js).

import { ApiError, transportFor } from './api.js';

const ADMIN = '/admin';

/** The page size of the secrets list (the server allows 1..100). */
export const SECRETS_PAGE_SIZE = 50;

/** The page size of the audit log (the server allows up to 1000). */
export const AUDIT_PAGE_SIZE = 100;

/**
 * AdminApi calls the admin routes with the session's token. Every route
 * answers 403 forbidden to anyone the host does not confirm as a site admin,
 * and 503 unavailable when the host could not be asked.
 */
export class AdminApi {
  #t;

  /** @param {import('./session.js').Session | {request: Function}} via a Session (Connect) or a transport */
  constructor(via) {
    this.#t = transportFor(via);
  }

  #request(method, path, opts) {
    return this.#t.request(method, ADMIN + path, opts);
  }

  /**
   * listSecrets → {secrets, total, offset}: one page of the site's secrets,
   * newest first. q matches the title or the location.
   */
  async listSecrets({ q = '', offset = 0, limit = SECRETS_PAGE_SIZE } = {}) {
    const { data } = await this.#request('GET', `/secrets${query({ q, offset, limit })}`);
    return {
      secrets: Array.isArray(data && data.secrets) ? data.secrets : [],
      total: Number.isInteger(data && data.total) ? data.total : 0,
      offset: Number.isInteger(data && data.offset) ? data.offset : offset,
    };
  }

  /** deleteSecret removes a secret without its password (audited). */
  async deleteSecret(id) {
    await this.#request('DELETE', `/secrets/${encodeURIComponent(id)}`);
  }

  /** resetLockout clears the failed attempts and lockouts of a secret. */
  async resetLockout(id) {
    await this.#request('POST', `/secrets/${encodeURIComponent(id)}/reset-lockout`);
  }

  /**
   * lockouts → [{accountId, everyone, failures, lockedUntil}]: who failed
   * to unlock a secret and who is locked out until when.
   */
  async lockouts(id) {
    const { data } = await this.#request('GET', `/secrets/${encodeURIComponent(id)}/lockouts`);
    return Array.isArray(data && data.lockouts) ? data.lockouts : [];
  }

  /** resetUserLockout clears one account's failed attempts on a secret. */
  async resetUserLockout(id, accountId) {
    await this.#request('POST', `/secrets/${encodeURIComponent(id)}/lockouts/reset`, { body: { accountId } });
  }

  /** licence → {licensing, state, message}: the site's licence as the server sees it. */
  async licence() {
    const { data } = await this.#request('GET', '/licence');
    return data || {};
  }

  /** getPolicy → the site's policy, durations in seconds. */
  async getPolicy() {
    const { data } = await this.#request('GET', '/policy');
    return data || {};
  }

  /** setPolicy stores a complete policy → the policy as stored. */
  async setPolicy(policy) {
    const { data } = await this.#request('PUT', '/policy', { body: policy });
    return data || {};
  }

  /**
   * audit → {events, next}: one page of the audit log, newest first.
   * filters: {type, secret, account, from, to} (RFC 3339 times); next, when
   * present, is the `before` of the following page.
   */
  async audit(filters = {}, { before, limit = AUDIT_PAGE_SIZE } = {}) {
    const { data } = await this.#request('GET', `/audit${query({ ...filters, before, limit })}`);
    return {
      events: Array.isArray(data && data.events) ? data.events : [],
      next: data && Number.isFinite(data.next) && data.next > 0 ? data.next : undefined,
    };
  }

  /** auditCSV → {blob, filename}: the filtered audit log as a CSV file. */
  async auditCSV(filters = {}) {
    const { res } = await this.#request('GET', `/audit.csv${query(filters)}`, { raw: true, accept: 'text/csv' });
    let blob;
    try {
      blob = await res.blob();
    } catch {
      throw new ApiError('network');
    }
    return { blob, filename: attachmentName(res.headers.get('Content-Disposition')) || 'secrets-audit.csv' };
  }
}

// query builds "?a=1&b=2" from the values that are set.
function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    q.set(key, String(value));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * attachmentName reads the filename of a Content-Disposition header, or ""
 * when there is none. Only plain names are kept: the download attribute
 * gets no path separators or control characters.
 */
export function attachmentName(header) {
  if (!header) return '';
  let name = '';
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (star) {
    try {
      name = decodeURIComponent(star[1].trim());
    } catch {
      name = '';
    }
  }
  if (!name) {
    const plain = /filename\s*=\s*("([^"]*)"|[^;\s]+)/i.exec(header);
    if (plain) name = plain[2] !== undefined ? plain[2] : plain[1];
  }
  name = name.replace(/[\u0000-\u001f\u007f/\\]/g, '').trim();
  return name.length > 200 ? '' : name;
}
