import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KeyCache, MAX_AGE_MS, describeAge } from '../src/keys.js';

const vectors = JSON.parse(readFileSync(new URL('../../tests/vectors/pass.json', import.meta.url), 'utf8'));

function memoryStorage(initial = {}) {
  const data = new Map(Object.entries(initial));
  return { getItem: (k) => (data.has(k) ? data.get(k) : null), setItem: (k, v) => data.set(k, String(v)), data };
}

test('no cached list: scanning is refused', () => {
  const cache = new KeyCache(memoryStorage());
  assert.equal(cache.isUsable(), false);
  assert.equal(cache.ageMs(), Infinity);
});

test('a cached list is usable up to the age limit and refused after it', () => {
  const fetched = Date.parse('2026-03-01T00:00:00Z');
  const storage = memoryStorage({ 'xym.scanner.keys': JSON.stringify({ json: vectors, fetched_at: fetched, etag: '"x"' }) });
  const cache = new KeyCache(storage);
  assert.ok(cache.trust.issuers.has(230184));
  assert.equal(cache.isUsable(fetched + MAX_AGE_MS), true);
  assert.equal(cache.isUsable(fetched + MAX_AGE_MS + 1), false);
});

test('the cache checks every key when it loads a list and drops the ones a verifier must not use', () => {
  const cache = new KeyCache(memoryStorage({ 'xym.scanner.keys': JSON.stringify({ json: vectors, fetched_at: 0 }) }));
  const kids = [...cache.trust.issuers.get(230184).keys.keys()].sort((a, b) => a - b);
  assert.deepEqual(kids, [1, 2, 3, 4, 5]); // 20-25: small-order, non-canonical, mixed-order, odd status, alg, time
});

test('a corrupt cache is treated as no cache, not as a crash', () => {
  const cache = new KeyCache(memoryStorage({ 'xym.scanner.keys': '{not json' }));
  assert.equal(cache.isUsable(), false);
});

test('refresh keeps the old list on a network failure and renews it on 200 or 304', async () => {
  const storage = memoryStorage();
  const cache = new KeyCache(storage);
  const realFetch = globalThis.fetch;
  try {
    globalThis.fetch = async () => { throw new TypeError('Failed to fetch'); };
    await assert.rejects(cache.refresh());
    assert.equal(cache.isUsable(), false);

    let seenHeaders = null;
    globalThis.fetch = async (url, init) => {
      seenHeaders = init.headers;
      assert.match(String(url), /\/api\/pass\/keys$/);
      return new Response(JSON.stringify(vectors), { status: 200, headers: { 'Content-Type': 'application/json', ETag: '"v1"' } });
    };
    assert.equal(await cache.refresh(), true);
    assert.equal(cache.isUsable(), true);
    assert.equal(JSON.parse(storage.data.get('xym.scanner.keys')).etag, '"v1"');

    cache.entry.fetched_at -= MAX_AGE_MS * 2; // long offline
    assert.equal(cache.isUsable(), false);
    globalThis.fetch = async (url, init) => {
      seenHeaders = init.headers;
      return new Response(null, { status: 304 });
    };
    assert.equal(await cache.refresh(), true);
    assert.equal(seenHeaders['If-None-Match'], '"v1"');
    assert.equal(cache.isUsable(), true);
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('ages read naturally', () => {
  assert.equal(describeAge(Infinity), '从未更新');
  assert.equal(describeAge(30000), '刚刚');
  assert.equal(describeAge(5 * 60000), '5 分钟前');
  assert.equal(describeAge(3 * 3600000), '3 小时前');
  assert.equal(describeAge(72 * 3600000), '3 天前');
});
