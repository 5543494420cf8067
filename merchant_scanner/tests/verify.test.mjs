// The scanner must agree with the backend on every case of tests/vectors/pass.json, through both
// Ed25519 engines it ships.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';

import { b45decode, b45encode, Base45Error } from '../src/base45.js';
import {
  verifyPass, parseKeyList, PassRejected, describeClaims, decodeUnverified, base64urlDecode, asLocalTier,
} from '../src/verify.js';
import { webCryptoVerifier, nobleVerifier, webCryptoSupportsEd25519, publicKeyCheck } from '../src/ed25519.js';

const vectors = JSON.parse(readFileSync(new URL('../../tests/vectors/pass.json', import.meta.url), 'utf8'));
const isValidKey = publicKeyCheck(ed);
const trust = parseKeyList(vectors, { isValidKey });

const engines = {
  webcrypto: webCryptoVerifier(webcrypto.subtle),
  noble: nobleVerifier(ed, sha512),
};

async function verdict(token, verifyEd25519, now = vectors.now) {
  try {
    const claims = await verifyPass(token, { trust, now, verifyEd25519 });
    return { valid: true, claims };
  } catch (err) {
    if (!(err instanceof PassRejected)) throw err;
    return { valid: false, code: err.code, reason: err.reason };
  }
}

test('the vectors file has cases of every kind', () => {
  assert.ok(vectors.cases.length >= 20);
  assert.ok(vectors.cases.some((c) => c.valid));
  for (const code of ['pass_invalid', 'pass_expired', 'pass_unknown_issuer', 'pass_key_revoked']) {
    assert.ok(vectors.cases.some((c) => c.code === code), code);
  }
});

for (const [engine, verifyEd25519] of Object.entries(engines)) {
  for (const c of vectors.cases) {
    test(`${engine}: ${c.name}`, async () => {
      const got = await verdict(c.token, verifyEd25519, c.now ?? vectors.now);
      if (c.valid) {
        assert.deepEqual(got, { valid: true, claims: c.claims });
      } else {
        assert.deepEqual(got, { valid: false, code: c.code, reason: c.reason });
      }
    });
  }
}

test('Node 20 WebCrypto really verifies Ed25519 (so the browser path is the one tested)', async () => {
  assert.equal(await webCryptoSupportsEd25519(webcrypto.subtle), true);
  assert.equal(await webCryptoSupportsEd25519(undefined), false);
});

test('every test key signs passes that both engines accept, and a stranger key is refused', async () => {
  // Sign fresh passes with the vectors' test-only private keys, via noble, to cross-check engines.
  const good = vectors.cases.find((c) => c.name === 'person tier 1, active key');
  const { signed } = decodeUnverified(good.token);
  const issuer = vectors.issuers[0];
  const active = issuer.keys.find((k) => k.status === 'active');
  const { base64urlDecode, SIGNING_CONTEXT } = await import('../src/verify.js');
  const msg = new Uint8Array([...SIGNING_CONTEXT, ...signed]);
  const sig = ed.sign(msg, base64urlDecode(active.test_only_private_key));
  const token = 'XYM:' + b45encode(new Uint8Array([...signed, ...sig]));
  assert.equal(token, good.token, 'Ed25519 is deterministic: the same bytes as the Python signer');
  for (const verifyEd25519 of Object.values(engines)) {
    assert.equal((await verdict(token, verifyEd25519)).valid, true);
  }
  const stranger = ed.sign(msg, new Uint8Array(32).fill(7));
  const forged = 'XYM:' + b45encode(new Uint8Array([...signed, ...stranger]));
  for (const verifyEd25519 of Object.values(engines)) {
    assert.deepEqual(await verdict(forged, verifyEd25519), { valid: false, code: 'pass_invalid', reason: 'signature' });
  }
});

test('the key list from the API (ISO times, tier names) parses into the same trust', () => {
  const api = {
    issuers: [{ issuer: 230184, name: '肇东市信用办', keys: [{
      kid: 2, alg: 'Ed25519', public_key: vectors.issuers[0].keys[1].public_key, status: 'active',
      not_before: '2027-01-15T07:00:00+00:00', not_after: null }] }],
    tiers: { basic: '守信', good: '诚信良好', excellent: '诚信优秀', red_list: '守信红名单' },
    tier_levels: { 1: 'basic', 2: 'good', 3: 'excellent', 4: 'red_list' },
    skew_seconds: 45,
  };
  const t = parseKeyList(api, { isValidKey });
  assert.equal(t.skew, 45);
  assert.equal(t.issuers.get(230184).keys.get(2).notBefore, Date.parse('2027-01-15T07:00:00Z') / 1000);
  assert.equal(t.tierLevels.get(4), 'red_list');
  const d = describeClaims({ issuer: 230184, tier: 4, kind: 'company' }, t);
  assert.deepEqual(d, { tierCode: 'red_list', tierName: '守信红名单', kindName: '企业', issuerName: '肇东市信用办' });
});

test('a partner city\'s level is taken as the level this city mapped it to, or refused', () => {
  const t = parseKeyList({
    issuers: [
      { issuer: 230184, name: '肇东', local: true, keys: [] },
      { issuer: 130100, name: '石家庄', local: false, keys: [], tier_map: { 1: null, 2: 1, 3: 2, 4: 9, x: 1 } },
      { issuer: 110100, name: '北京', local: false, keys: [] },
    ],
    tiers: { basic: '守信', good: '诚信良好' },
    tier_levels: { 1: 'basic', 2: 'good' },
  }, { isValidKey });
  const home = { issuer: 230184, tier: 2, kind: 'person' };
  assert.equal(asLocalTier(home, t), home);
  const visitor = asLocalTier({ issuer: 130100, tier: 3, kind: 'person' }, t);
  assert.equal(visitor.tier, 2);
  assert.equal(describeClaims(visitor, t).tierName, '诚信良好');
  assert.equal(asLocalTier({ issuer: 130100, tier: 2, kind: 'person' }, t).tier, 1);
  for (const [issuer, tier] of [[130100, 1], [130100, 4], [130100, 5], [110100, 1]]) {
    assert.throws(() => asLocalTier({ issuer, tier, kind: 'person' }, t),
      (e) => e instanceof PassRejected && e.code === 'tier_not_accepted', `${issuer}/${tier}`);
  }
});


test('offline, a partner with its own ladder: its level 5 passes rule 9 and is taken at the level it maps to', async () => {
  // As scan.js does: verifyPass with the cached key list, then asLocalTier.
  const ladder = vectors.issuers.find((entry) => entry.tier_levels);
  assert.equal(ladder.tier_map['5'], 4);
  const five = vectors.cases.find((c) => c.name === 'partner issuer with its own levels: its level 5, which we do not have');
  for (const verifyEd25519 of Object.values(engines)) {
    const claims = await verifyPass(five.token, { trust, now: vectors.now, verifyEd25519 });
    const visitor = asLocalTier(claims, trust);
    assert.deepEqual([visitor.tier, visitor.issuer_tier, describeClaims(visitor, trust).tierCode], [4, 5, 'red_list']);
  }
  // The same list without the partner's own levels: its level 5 is read against ours, and refused.
  const withoutLadder = parseKeyList({
    ...vectors, issuers: vectors.issuers.map(({ tier_levels: _, ...entry }) => entry) }, { isValidKey });
  await assert.rejects(verifyPass(five.token, { trust: withoutLadder, now: vectors.now, verifyEd25519: engines.noble }),
    (e) => e instanceof PassRejected && e.code === 'pass_invalid' && e.reason === 'claims');
});

test('an issuer\'s own tier_levels that is not an object publishes no level; absent or null means ours', () => {
  const listed = (tierLevels) => parseKeyList({
    issuers: [{ issuer: 130100, name: '石家庄', local: false, keys: [], tier_levels: tierLevels }],
    tier_levels: { 1: 'basic', 2: 'good' },
  }, { isValidKey }).issuers.get(130100).tierLevels;
  assert.equal(listed(undefined), null);
  assert.equal(listed(null), null);
  for (const odd of [[1, 2], '1,2', 5, true]) assert.equal(listed(odd).size, 0, JSON.stringify(odd));
  assert.deepEqual([...listed({ 2: 'b', 5: 'aaa', x: 'no' }).keys()], [2, 5]);
});
test('base45 round-trips and rejects like RFC 9285 says', () => {
  for (const s of ['', 'A', 'AB', 'Hello!!', 'ietf!', 'base-45']) {
    const bytes = new TextEncoder().encode(s);
    assert.deepEqual(b45decode(b45encode(bytes)), bytes);
  }
  assert.equal(b45encode(new TextEncoder().encode('AB')), 'BB8');
  assert.equal(b45encode(new TextEncoder().encode('Hello!!')), '%69 VD92EX0');
  assert.equal(new TextDecoder().decode(b45decode('QED8WEX0')), 'ietf!');
  for (const bad of ['A', 'ABCD', 'GGW', 'ZZ', 'aB8', 'BB8\n', 'BB 8']) {
    assert.throws(() => b45decode(bad), Base45Error, JSON.stringify(bad));
  }
  assert.deepEqual(b45decode('FGW'), new Uint8Array([0xff, 0xff]));
  assert.deepEqual(b45decode('U5'), new Uint8Array([0xff]));
});

test('the key list takes the skew from skew_seconds, 30 when it is missing or malformed', () => {
  assert.equal(trust.skew, vectors.skew_seconds);
  for (const skew of [undefined, -1, 1.5, '45']) {
    assert.equal(parseKeyList({ issuers: [], skew_seconds: skew }, { isValidKey }).skew, 30, String(skew));
  }
});

test('loading the key list drops exactly the keys the vectors mark, and needs the key check', () => {
  for (const issuer of vectors.issuers) {
    for (const k of issuer.keys) {
      assert.equal(trust.issuers.get(issuer.issuer).keys.has(k.kid), !k.dropped_because, `${issuer.issuer}/${k.kid}`);
    }
  }
  assert.throws(() => parseKeyList(vectors), TypeError);
});

test('key times: a fraction is truncated, a time not in UTC ISO 8601 drops the key', () => {
  assert.equal(trust.issuers.get(230184).keys.get(4).notBefore, vectors.now - 100);
  assert.equal(trust.issuers.get(230184).keys.get(5).notAfter, vectors.now - 60);
  const kid4 = vectors.issuers[0].keys.find((k) => k.kid === 4);
  const read = (notBefore) => parseKeyList({ issuers: [{ issuer: 1, keys: [{ ...kid4, not_before: notBefore }] }] },
    { isValidKey }).issuers.get(1).keys.get(4);
  assert.equal(read('2027-01-15T07:58:20.999999999+00:00').notBefore, vectors.now - 100);
  for (const bad of ['2027-01-15T07:58:20', '2027-01-15 07:58:20Z', '2027-02-30T07:58:20Z', '2027-01-15T07:58:20+08:00',
    1799999900, null]) {
    assert.equal(read(bad), undefined, JSON.stringify(bad));
  }
});

test('every encoding of a small-order point is refused as a key; the vectors\' real keys are not', () => {
  assert.equal(vectors.small_order_keys.length, 14);
  for (const encoding of vectors.small_order_keys) assert.equal(isValidKey(base64urlDecode(encoding)), false, encoding);
  for (const k of vectors.issuers.flatMap((i) => i.keys).filter((k) => k.test_only_private_key)) {
    assert.equal(isValidKey(base64urlDecode(k.public_key)), true, String(k.kid));
  }
  assert.equal(isValidKey(new Uint8Array(31)), false);
});

test('S >= L and a small-order R are refused before any engine runs', async () => {
  let calls = 0;
  const acceptsAnything = async () => { calls += 1; return true; };
  for (const name of ['S >= L (S + L, equal modulo L)', 'R is the identity, a small-order point']) {
    const c = vectors.cases.find((v) => v.name === name);
    const refused = { valid: false, code: 'pass_invalid', reason: 'signature' };
    assert.deepEqual(await verdict(c.token, acceptsAnything), refused);
  }
  assert.equal(calls, 0);
  const good = vectors.cases.find((v) => v.name === 'person tier 1, active key');
  assert.equal((await verdict(good.token, acceptsAnything)).valid, true);
});
