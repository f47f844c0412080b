// Unit tests of the Forge transport seam, with invokeRemote faked the way
// @forge/bridge 7.2.0 resolves it. Run by static/customui_test.go (make
// test), or by hand: node --experimental-detect-module --test forge/test/

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AdminApi } from '../../static/admin-api.js';
import { Api, ApiError } from '../../static/api.js';
import { labelOf, moduleOf } from '../../static/forge-app.js';
import { FORGE_API, ForgeTransport } from '../../static/forge-transport.js';

// fake returns an invokeRemote that records its inputs and answers with
// the next of answers (a value, or a function of the input).
function fake(...answers) {
  const calls = [];
  const fn = async (input) => {
    calls.push(input);
    const a = answers.length > 1 ? answers.shift() : answers[0];
    if (a instanceof Error) throw a;
    return typeof a === 'function' ? a(input) : a;
  };
  fn.calls = calls;
  return fn;
}

const DATE = 'Wed, 02 Dec 2026 12:00:00 GMT';

test('lists secrets under /forge/api with no body', async () => {
  const invoke = fake({ status: 200, headers: { 'content-type': 'application/json' }, body: { secrets: [{ id: 's1', title: 'A' }] } });
  const got = await new Api(new ForgeTransport(invoke)).listSecrets();
  assert.deepEqual(got, [{ id: 's1', title: 'A' }]);
  assert.equal(invoke.calls.length, 1);
  assert.deepEqual(invoke.calls[0], { path: `${FORGE_API}/secrets`, method: 'GET', headers: { Accept: 'application/json' } });
});

test('lists every page: follows next with after=, stops when there is none', async () => {
  const page = (ids, next) => ({ status: 200, headers: {}, body: { secrets: ids.map((id) => ({ id })), ...(next ? { next } : {}) } });
  const invoke = fake(page(['a', 'b'], 'c/1+'), page(['c', 'd'], 'c2'), page(['e']));
  const got = await new Api(new ForgeTransport(invoke)).listSecrets();
  assert.deepEqual(got.map((s) => s.id), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(invoke.calls.map((c) => c.path), [
    `${FORGE_API}/secrets`, `${FORGE_API}/secrets?after=c%2F1%2B`, `${FORGE_API}/secrets?after=c2`,
  ]);
});

test('a list that never ends stops after a bounded number of pages', async () => {
  const invoke = fake({ status: 200, headers: {}, body: { secrets: [{ id: 'x' }], next: 'again' } });
  const got = await new Api(new ForgeTransport(invoke)).listSecrets();
  assert.equal(invoke.calls.length, 10);
  assert.equal(got.length, 10);
});

test('sends bodies as objects, unlock tokens as a header, ids encoded', async () => {
  const invoke = fake({ status: 200, headers: {}, body: { id: 'a/b', version: 2, expiresAt: '2026-12-02T12:10:00Z', unlockToken: 'u2' } });
  const api = new Api(new ForgeTransport(invoke));
  await api.updateSecret('a/b', 'u1', { title: 'T', content: 'C', version: 1 });
  const call = invoke.calls[0];
  assert.equal(call.path, `${FORGE_API}/secrets/a%2Fb`);
  assert.equal(call.method, 'PUT');
  assert.deepEqual(call.body, { title: 'T', content: 'C', version: 1 });
  assert.equal(call.headers['Content-Type'], 'application/json');
  assert.equal(call.headers['X-Unlock-Token'], 'u1');
});

test('unlock computes lockAt on the server clock, headers in any case or as arrays', async () => {
  for (const headers of [{ date: DATE }, { Date: [DATE] }]) {
    const invoke = fake({ status: 200, headers, body: { id: 's', content: 'x', unlockToken: 't', expiresAt: '2026-12-02T12:10:00Z' } });
    const before = Date.now();
    const got = await new Api(new ForgeTransport(invoke)).unlockSecret('s', 'pw');
    assert.equal(invoke.calls[0].path, `${FORGE_API}/secrets/s/unlock`);
    assert.deepEqual(invoke.calls[0].body, { password: 'pw' });
    const remaining = got.lockAt - before;
    assert.ok(remaining >= 599000 && remaining <= 601000, `lockAt is ${remaining} ms away, want 10 min`);
  }
});

test('204 resolves with no data', async () => {
  const invoke = fake({ status: 204, headers: {} });
  await new Api(new ForgeTransport(invoke)).deleteSecret('s', 'u');
  assert.equal(invoke.calls[0].method, 'DELETE');
  assert.equal(invoke.calls[0].body, undefined);
});

test('error answers become ApiErrors with the server code', async () => {
  const cases = [
    [{ status: 403, headers: {}, body: { error: { code: 'wrong_password', message: 'Wrong.', attemptsLeft: 2 } } }, 'wrong_password', (e) => assert.equal(e.attemptsLeft, 2)],
    [{ status: 429, headers: { 'retry-after': '30' }, body: { error: { code: 'locked', message: 'x' } } }, 'locked', (e) => assert.equal(e.retryAfter, 30)],
    [{ status: 409, headers: {}, body: '{"error":{"code":"conflict","message":"c"}}' }, 'conflict', () => {}],
    [{ status: 502, headers: {}, body: 'Bad gateway' }, 'unavailable', () => {}],
    [{ status: 401, headers: {}, body: { error: { code: 'unauthorized', message: 'x' } } }, 'session_expired', () => {}],
  ];
  for (const [answer, code, more] of cases) {
    const err = await new Api(new ForgeTransport(fake(answer))).listSecrets().catch((e) => e);
    assert.ok(err instanceof ApiError, `status ${answer.status}: ${err}`);
    assert.equal(err.code, code, `status ${answer.status}`);
    more(err);
  }
});

test('a rejected call is session_expired for a refused token, network otherwise', async () => {
  const cases = [
    [new Error('Remote could not verify the Forge Invocation Token'), 'session_expired'],
    [new Error('Invalid response from remote'), 'network'],
    [new Error('Failed to fetch'), 'network'],
  ];
  for (const [rejection, code] of cases) {
    const err = await new Api(new ForgeTransport(fake(rejection))).listSecrets().catch((e) => e);
    assert.equal(err.code, code, rejection.message);
  }
  const err = await new Api(new ForgeTransport(fake(undefined))).listSecrets().catch((e) => e);
  assert.equal(err.code, 'network', 'an answer without a status');
});

test('a call the platform never answers times out as network', async () => {
  const never = () => new Promise(() => {});
  const err = await new Api(new ForgeTransport(never, { timeoutMs: 20 })).listSecrets().catch((e) => e);
  assert.equal(err.code, 'network');
});

test('a 2xx that is not a JSON object is internal', async () => {
  const err = await new Api(new ForgeTransport(fake({ status: 200, headers: {}, body: 'hello' }))).listSecrets().catch((e) => e);
  assert.equal(err.code, 'internal');
});

test('admin calls go to /forge/api/admin and the CSV downloads', async () => {
  const invoke = fake(
    { status: 200, headers: {}, body: { minPasswordLength: 12 } },
    { status: 200, headers: { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="audit.csv"' }, body: 'a,b\n1,2\n' },
  );
  const admin = new AdminApi(new ForgeTransport(invoke));
  assert.deepEqual(await admin.getPolicy(), { minPasswordLength: 12 });
  const { blob, filename } = await admin.auditCSV({ type: 'created' });
  assert.equal(invoke.calls[0].path, `${FORGE_API}/admin/policy`);
  assert.equal(invoke.calls[1].path, `${FORGE_API}/admin/audit.csv?type=created`);
  assert.equal(invoke.calls[1].headers.Accept, 'text/csv');
  assert.equal(filename, 'audit.csv');
  assert.equal(await blob.text(), 'a,b\n1,2\n');
});

test('the label comes from the issue key or the page id', () => {
  assert.equal(labelOf('jira', { extension: { issue: { id: '10001', key: 'PROJ-7' } } }), 'PROJ-7');
  assert.equal(labelOf('jira', { extension: { issue: { id: 10001 } } }), 'Issue 10001');
  assert.equal(labelOf('confluence', { extension: { content: { id: '98765' } } }), 'Page 98765');
  assert.equal(labelOf('confluence', null), '');
  assert.equal(labelOf('jira', { extension: { issue: { key: 'K'.repeat(300) } } }).length, 100);
});

test('the module comes from the context when it names one of ours', () => {
  assert.deepEqual(moduleOf({ extension: { type: 'jira:issuePanel' } }), { product: 'jira', kind: 'issue-panel' });
  assert.deepEqual(moduleOf({ extension: { type: 'confluence:globalSettings' } }), { product: 'confluence', kind: 'admin' });
  assert.deepEqual(moduleOf({ extension: { type: 'macro' } }), { product: 'confluence', kind: 'macro' });
  assert.equal(moduleOf({ extension: { type: 'jira:issueGlance' } }), null);
  assert.equal(moduleOf(null), null);
});
