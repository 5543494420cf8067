// The citizen page's and office dashboard's API client (backend/web/static/api.js), run here with
// the scanner's node tests: one test runner for every front-end module.
import test from 'node:test';
import assert from 'node:assert/strict';

import { ApiError, createClient } from '../../backend/web/static/api.js';

function memoryStorage() {
  const items = new Map();
  return { getItem: (k) => (items.has(k) ? items.get(k) : null), setItem: (k, v) => items.set(k, String(v)),
    removeItem: (k) => items.delete(k), items };
}

const json = (status, body) => new Response(JSON.stringify(body), {
  status, headers: { 'Content-Type': status < 400 ? 'application/json' : 'application/problem+json' } });

/** A fake server: `routes(path, init)` answers; every call is kept. */
function serve(routes) {
  const calls = [];
  globalThis.fetch = async (path, init = {}) => { calls.push({ path, init }); return routes(path, init, calls); };
  return calls;
}

test('the bearer token is sent, and a JSON body with its type', async () => {
  const storage = memoryStorage();
  const client = createClient({ storage, name: 'citizen' });
  client.keep({ access_token: 'a1', refresh_token: 'r1' });
  const calls = serve(() => json(200, { ok: true }));
  assert.deepEqual(await client.json('/api/x', { method: 'POST', json: { n: 1 } }), { ok: true });
  assert.equal(calls[0].init.headers.Authorization, 'Bearer a1');
  assert.equal(calls[0].init.headers['Content-Type'], 'application/json');
  assert.equal(calls[0].init.body, '{"n":1}');
});

test('an expired access token is refreshed once, even by two requests at once, then retried', async () => {
  const storage = memoryStorage();
  const client = createClient({ storage, name: 'office' });
  client.keep({ access_token: 'old', refresh_token: 'r1' });
  const calls = serve((path, init) => {
    if (path === '/api/auth/refresh') return json(200, { access_token: 'new', refresh_token: 'r2' });
    return init.headers.Authorization === 'Bearer new' ? json(200, { ok: true })
      : json(401, { code: 'token_expired', message: '登录已过期' });
  });
  await Promise.all([client.request('/api/a'), client.request('/api/b')]);
  assert.equal(calls.filter((c) => c.path === '/api/auth/refresh').length, 1);
  assert.equal(storage.getItem('xym.office.access'), 'new');
  assert.equal(storage.getItem('xym.office.refresh'), 'r2');
});

test('a session the server refuses is forgotten and the page told, with the server\'s code', async () => {
  const storage = memoryStorage();
  let signedOut = null;
  const client = createClient({ storage, name: 'office', onSignedOut: (e) => { signedOut = e; } });
  client.keep({ access_token: 'old', refresh_token: 'r1' });
  serve((path) => (path === '/api/auth/refresh' ? json(401, { code: 'session_revoked', message: '会话已注销' })
    : json(401, { code: 'session_revoked', message: '会话已注销' })));
  await assert.rejects(client.request('/api/a'), (e) => e instanceof ApiError && e.code === 'session_revoked'
    && e.status === 401 && e.message === '会话已注销');
  assert.equal(client.accessToken(), null);
  assert.equal(storage.getItem('xym.office.refresh'), null);
  assert.equal(signedOut.code, 'session_revoked');
});

test('a wrong password (401 with no session) does not sign anyone out', async () => {
  let signedOut = false;
  const client = createClient({ storage: memoryStorage(), name: 'office', onSignedOut: () => { signedOut = true; } });
  const calls = serve(() => json(401, { code: 'invalid_credentials', message: '用户名或密码错误' }));
  await assert.rejects(client.request('/api/auth/office/login', { method: 'POST', json: {} }), { code: 'invalid_credentials' });
  assert.equal(calls.length, 1);
  assert.equal(signedOut, false);
});

test('no answer, or one that is not a problem, reads in Chinese, never the browser\'s English', async () => {
  const client = createClient({ storage: memoryStorage(), name: 'citizen' });
  serve(() => { throw new TypeError('Failed to fetch'); });
  await assert.rejects(client.request('/api/a'), { code: 'network', status: 0, message: '网络异常，请稍后再试' });
  serve(() => new Response('<html>502 Bad Gateway</html>', { status: 502, headers: { 'Content-Type': 'text/html' } }));
  await assert.rejects(client.request('/api/a'), { code: 'network', status: 502, message: '网络异常，请稍后再试' });
});
