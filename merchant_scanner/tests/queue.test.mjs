import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue, applyOutcome, isRetryable, retryDelayMs } from '../src/queue.js';
import { uuid4, shanghaiDay, shanghaiTime } from '../src/ids.js';

let n = 0;
const fresh = () => Queue.open(`test-${++n}`);
const item = (extra = {}) => ({
  client_id: uuid4(), token: 'XYM:ABC', perk_id: 1, scanned_at: new Date().toISOString(),
  day: shanghaiDay(), ...extra,
});

/** A fake server that records what it got and answers by client_id, like the real one. */
function fakeServer() {
  const seen = new Map();
  const server = {
    calls: 0, down: false, next: null,
    async send(record) {
      server.calls++;
      if (server.down) throw new TypeError('Failed to fetch');
      if (server.next) { const r = server.next; server.next = null; return r; }
      if (seen.has(record.client_id)) return { status: 200, body: seen.get(record.client_id) };
      const body = { id: seen.size + 1, status: 'recorded', client_id: record.client_id, offline: true };
      seen.set(record.client_id, body);
      return { status: 201, body };
    },
    seen,
  };
  return server;
}

test('what each answer does to a queued item', () => {
  const r = item();
  assert.equal(applyOutcome(r, { network: true }).state, 'pending');
  assert.equal(applyOutcome(r, { status: 503, body: { code: 'internal' } }).state, 'pending');
  assert.equal(applyOutcome(r, { status: 502, body: null }).state, 'pending'); // an HTML proxy page
  assert.equal(applyOutcome(r, { status: 429, body: { code: 'rate_limited' } }).state, 'pending');
  assert.equal(applyOutcome(r, { status: 401, body: { code: 'unauthorized' } }).state, 'pending');
  assert.equal(applyOutcome(r, { status: 201, body: { id: 1 } }).state, 'synced');
  assert.equal(applyOutcome(r, { status: 200, body: { id: 1 } }).state, 'synced');
  const refused = applyOutcome(r, { status: 409, body: { code: 'pass_already_used', message: '已使用' } });
  assert.equal(refused.state, 'refused');
  assert.deepEqual(refused.problem, { status: 409, code: 'pass_already_used', message: '已使用' });
  assert.equal(applyOutcome(r, { status: 400, body: { detail: 'no code' } }).state, 'pending');
  assert.equal(applyOutcome(r, { network: true }).attempts, 1);
  assert.ok(isRetryable(500) && !isRetryable(410));
  assert.equal(retryDelayMs(1), 5000);
  assert.equal(retryDelayMs(20), 300000);
});

test('offline items survive failed syncs and go out exactly once, with the same client_id', async () => {
  const q = await fresh();
  const server = fakeServer();
  const a = await q.add(item());
  const b = await q.add(item());
  server.down = true;
  let res = await q.sync((r) => server.send(r), { force: true });
  assert.deepEqual(res, { synced: 0, refused: 0, kept: 1 }); // stops at the first network error
  assert.equal(await q.countPending(), 2);
  server.down = false;
  res = await q.sync((r) => server.send(r), { force: true });
  assert.deepEqual(res, { synced: 2, refused: 0, kept: 0 });
  assert.equal(await q.countPending(), 0);
  assert.deepEqual([...server.seen.keys()].sort(), [a.client_id, b.client_id].sort());
  // Nothing pending: a further sync sends nothing.
  const calls = server.calls;
  await q.sync((r) => server.send(r), { force: true });
  assert.equal(server.calls, calls);
});

test('a lost answer is retried with the same client_id and the server dedups it', async () => {
  const q = await fresh();
  const server = fakeServer();
  const a = await q.add(item());
  // The request reaches the server but the answer is lost on the way back.
  await q.sync(async (r) => { await server.send(r); throw new TypeError('network'); }, { force: true });
  assert.equal((await q.get(a.client_id)).state, 'pending');
  await q.sync((r) => server.send(r), { force: true });
  const got = await q.get(a.client_id);
  assert.equal(got.state, 'synced');
  assert.equal(server.seen.size, 1);
  assert.equal(got.attempts, 2);
});

test('a refusal after sync is kept and shown, not retried', async () => {
  const q = await fresh();
  const server = fakeServer();
  const a = await q.add(item());
  server.next = { status: 409, body: { status: 409, code: 'pass_already_used', message: '该信用码已使用' } };
  const res = await q.sync((r) => server.send(r), { force: true });
  assert.deepEqual(res, { synced: 0, refused: 1, kept: 0 });
  const got = await q.get(a.client_id);
  assert.equal(got.problem.code, 'pass_already_used');
  const calls = server.calls;
  await q.sync((r) => server.send(r), { force: true });
  assert.equal(server.calls, calls);
});

test('concurrent syncs share one run: no item is sent twice at once', async () => {
  const q = await fresh();
  const server = fakeServer();
  await q.add(item());
  const [x, y] = await Promise.all([
    q.sync((r) => server.send(r), { force: true }),
    q.sync((r) => server.send(r), { force: true }),
  ]);
  assert.equal(x, y);
  assert.equal(server.calls, 1);
});

test('backoff: an item that just failed is not resent until its delay has passed', async () => {
  const q = await fresh();
  const server = fakeServer();
  await q.add(item());
  server.down = true;
  await q.sync((r) => server.send(r));
  server.down = false;
  const t = Date.now();
  assert.deepEqual(await q.sync((r) => server.send(r), { now: t }), { synced: 0, refused: 0, kept: 0 });
  assert.deepEqual(await q.sync((r) => server.send(r), { now: t + 6000 }), { synced: 1, refused: 0, kept: 0 });
});

test('a client_id cannot be queued twice, and pruning never drops pending items', async () => {
  const q = await fresh();
  const a = await q.add(item({ day: '2020-01-01' }));
  await assert.rejects(q.add({ ...a }));
  const b = await q.add(item({ day: '2020-01-01' }));
  await q.put({ ...b, state: 'synced' });
  await q.prune('2020-01-02');
  assert.ok(await q.get(a.client_id));
  assert.equal(await q.get(b.client_id), undefined);
  assert.equal((await q.day('2020-01-01')).length, 1);
});

test('ids and days', () => {
  const fake = { getRandomValues: (a) => a.fill(0xab) };
  assert.match(uuid4(fake), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.match(uuid4(), /^[0-9a-f-]{36}$/);
  assert.equal(shanghaiDay(Date.parse('2026-03-01T16:30:00Z')), '2026-03-02');
  assert.equal(shanghaiTime('2026-03-01T16:30:00Z'), '00:30');
});

test('a void made on this phone follows into its copy: the offline list drops it from the totals', async () => {
  const { markVoided } = await import('../src/queue.js');
  const synced = { client_id: 'c1', state: 'synced', amount_fen: 8870, server: { id: 9, status: 'recorded', holder_alias: 'ABCDEF' } };
  const voided = markVoided(synced, { id: 9, status: 'voided', void_reason: '误扫', holder_alias: null });
  assert.equal(voided.state, 'voided');
  assert.deepEqual(voided.server, { id: 9, status: 'voided', holder_alias: 'ABCDEF', void_reason: '误扫' });
  assert.equal(synced.state, 'synced');
});
