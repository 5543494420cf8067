// The twelve verification rules of docs/pass-format.md, in order, with the same codes and reasons
// as backend/pass/codec.py. Pure: no DOM, no network, no third-party import, so the browser and
// the Node tests run exactly this code. The Ed25519 check is injected as
// `verifyEd25519(publicKey, signature, message) -> Promise<boolean>`, and the key list's check of
// each key as `isValidKey(publicKey) -> boolean` (see ed25519.js).

import { b45decode, Base45Error } from './base45.js';

export const PREFIX = 'XYM:';
export const VERSION = 1;
export const SIGNING_CONTEXT = new TextEncoder().encode('CN-XYM-PASS-V1\0');
export const HEADER_LEN = 15;
export const SIGNED_LEN = 31;
export const PASS_LEN = 95;
export const MAX_LIFETIME_SECONDS = 600;
export const DEFAULT_SKEW_SECONDS = 30;

const KIND_NAMES = { 1: 'person', 2: 'company' };

/** A pass failed one rule; `code` and `reason` are that rule's stable names. */
export class PassRejected extends Error {
  constructor(code, reason) {
    super(`${code}: ${reason}`);
    this.name = 'PassRejected';
    this.code = code;
    this.reason = reason;
  }
}

// -- key list --------------------------------------------------------------------------------

export const KEY_ALG = 'Ed25519';
export const KEY_STATUSES = new Set(['active', 'retired', 'revoked']);

export function base64urlDecode(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// A key time: ISO 8601 in UTC, whole seconds; a fraction is ignored (truncated), as the server's
// own verifier does. Anything else (no zone, another zone, 30 February) is no time.
const KEY_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d{1,9})?(?:Z|\+00:00)$/;
const KEY_BASE64URL = /^[A-Za-z0-9_-]{43}$/; // 32 bytes, unpadded

function keyTime(value) {
  const match = typeof value === 'string' ? KEY_TIME.exec(value) : null;
  const ms = match ? Date.parse(`${match[1]}Z`) : NaN;
  // Date.parse rolls 30 February over into March; the round trip refuses it.
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== match[1]) return undefined;
  return ms / 1000;
}

/**
 * One key of the list as the rules need it, or null for a key the verifier drops
 * (docs/pass-format.md, "The key list"): another `alg`, an unknown status, a public key that is
 * not 32 bytes of base64url or not a valid point (`isValidKey`), a malformed time.
 */
function readKey(k, isValidKey) {
  if (k.alg !== KEY_ALG || !KEY_STATUSES.has(k.status)) return null;
  if (typeof k.public_key !== 'string' || !KEY_BASE64URL.test(k.public_key)) return null;
  const notBefore = keyTime(k.not_before);
  const notAfter = k.not_after === null || k.not_after === undefined ? null : keyTime(k.not_after);
  if (notBefore === undefined || notAfter === undefined) return null;
  const publicKey = base64urlDecode(k.public_key);
  if (!isValidKey(publicKey)) return null;
  return { publicKey, status: k.status, notBefore, notAfter };
}

/**
 * Turn `GET /api/pass/keys` (the vectors file has the same shape) into the lookup structure the
 * rules need. Every key is checked here, once: `isValidKey(bytes)` is publicKeyCheck() of
 * ed25519.js, and a key that fails it is dropped like any key the verifier cannot use.
 */
export function parseKeyList(json, { isValidKey }) {
  if (typeof isValidKey !== 'function') throw new TypeError('parseKeyList needs isValidKey');
  const issuers = new Map();
  for (const entry of json.issuers || []) {
    const keys = new Map();
    for (const k of entry.keys || []) {
      const key = readKey(k, isValidKey);
      if (key) keys.set(Number(k.kid), key);
    }
    issuers.set(Number(entry.issuer), { name: entry.name || String(entry.issuer), keys,
      local: entry.local !== false, tierMap: entry.local === false ? readTierMap(entry.tier_map) : null,
      // An issuer with its own ladder publishes its levels; rule 9 reads its passes by them.
      tierLevels: entry.tier_levels === undefined || entry.tier_levels === null ? null : readLevels(entry.tier_levels) });
  }
  // `tier_levels` maps level -> code (rule 9 knows a level by it), `tiers` code -> name.
  const tierLevels = readLevels(json.tier_levels || {});
  const tierNames = { ...(json.tiers || {}) };
  const skew = Number.isInteger(json.skew_seconds) && json.skew_seconds >= 0 ? json.skew_seconds : DEFAULT_SKEW_SECONDS;
  return { issuers, tierLevels, tierNames, skew };
}

// A `tier_levels` object as level -> code; anything but an object publishes no level.
function readLevels(json) {
  const levels = new Map();
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    for (const [level, code] of Object.entries(json)) {
      if (/^\d+$/.test(level)) levels.set(Number(level), code);
    }
  }
  return levels;
}

// -- strict Ed25519 ----------------------------------------------------------------------------

// The group order L (RFC 8032 section 5.1).
const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
// The y of every small-order point and y + p where that fits in 255 bits: libsodium's blocklist
// (ge25519_has_small_order in ed25519_ref10.c), compared with the sign bit masked.
const SMALL_ORDER_Y = [
  0n, 1n,
  2707385501144840649318225287225658788936804267575313519463743609750303402022n,
  55188659117513257062467267217118295137698188065244968500265048394206261417927n,
  2n ** 255n - 20n, 2n ** 255n - 19n, 2n ** 255n - 18n,
];

function littleEndian(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

/**
 * What rule 8 checks before the engine's equation, because WebCrypto and @noble/ed25519 do not
 * all check it: S < L, and R is not a small-order point (under any encoding). The server's
 * libsodium refuses both.
 */
export function signatureIsCanonical(signature) {
  const y = littleEndian(signature.subarray(0, 32)) & ((1n << 255n) - 1n);
  return littleEndian(signature.subarray(32, 64)) < GROUP_ORDER && !SMALL_ORDER_Y.includes(y);
}

// -- rules -----------------------------------------------------------------------------------

/** Rules 1-4: parse the text into claims, the signed bytes and the signature. */
export function decodeUnverified(text) {
  if (typeof text !== 'string' || !text.startsWith(PREFIX)) throw new PassRejected('pass_invalid', 'prefix');
  let raw;
  try {
    raw = b45decode(text.slice(PREFIX.length));
  } catch (err) {
    if (err instanceof Base45Error) throw new PassRejected('pass_invalid', 'encoding');
    throw err;
  }
  if (raw.length === 0 || raw[0] !== VERSION) throw new PassRejected('pass_invalid', 'version');
  if (raw.length !== PASS_LEN) throw new PassRejected('pass_invalid', 'length');
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const sealed = raw.subarray(HEADER_LEN, SIGNED_LEN);
  const claims = {
    issuer: (raw[1] << 16) | (raw[2] << 8) | raw[3],
    kid: view.getUint16(4),
    kind: KIND_NAMES[raw[6] >> 4] || '',
    tier: raw[6] & 0x0f,
    issued_at: view.getUint32(7),
    expires_at: view.getUint32(11),
    pass_id: Array.from(sealed, (b) => b.toString(16).padStart(2, '0')).join(''),
  };
  return { claims, signed: raw.subarray(0, SIGNED_LEN), signature: raw.subarray(SIGNED_LEN) };
}

/**
 * Apply rules 1-12 in order. Resolves to the claims
 * `{issuer, kid, kind, tier, issued_at, expires_at, pass_id}` or rejects with PassRejected.
 * `now` is Unix seconds; the skew comes from the key list unless given.
 */
export async function verifyPass(text, { trust, now, verifyEd25519, skew = trust.skew }) {
  const { claims, signed, signature } = decodeUnverified(text);
  const issuer = trust.issuers.get(claims.issuer);
  if (!issuer) throw new PassRejected('pass_unknown_issuer', 'issuer');
  const key = issuer.keys.get(claims.kid);
  if (!key) throw new PassRejected('pass_unknown_key', 'key');
  if (key.status === 'revoked') throw new PassRejected('pass_key_revoked', 'revoked');
  const message = new Uint8Array(SIGNING_CONTEXT.length + SIGNED_LEN);
  message.set(SIGNING_CONTEXT, 0);
  message.set(signed, SIGNING_CONTEXT.length);
  if (!signatureIsCanonical(signature) || !(await verifyEd25519(key.publicKey, signature, message))) {
    throw new PassRejected('pass_invalid', 'signature');
  }
  // Rule 9: the level must be one its issuer publishes (its own list, or else this city's).
  const published = issuer.tierLevels || trust.tierLevels;
  if (!claims.kind || !published.has(claims.tier)) throw new PassRejected('pass_invalid', 'claims');
  const lifetimeOk = claims.issued_at < claims.expires_at
    && claims.expires_at <= claims.issued_at + MAX_LIFETIME_SECONDS;
  const keyWindowOk = key.notBefore - skew <= claims.issued_at
    && (key.notAfter === null || claims.issued_at <= key.notAfter + skew);
  if (!(lifetimeOk && keyWindowOk)) throw new PassRejected('pass_invalid', 'window');
  if (claims.issued_at > now + skew) throw new PassRejected('pass_not_yet_valid', 'not_yet_valid');
  if (now >= claims.expires_at + skew) throw new PassRejected('pass_expired', 'expired');
  return claims;
}

// A partner city's levels as ours (docs/federation.md): {"their level": our level or null}. A level
// not named, or anything but a whole number there, is not accepted.
function readTierMap(json) {
  const map = new Map();
  for (const [level, ours] of Object.entries(json && typeof json === 'object' ? json : {})) {
    if (/^\d+$/.test(level) && Number.isInteger(ours) && ours >= 1) map.set(Number(level), ours);
  }
  return map;
}

/**
 * After rules 1-12: a partner city's pass at the level this city's office mapped its level to, as
 * the server takes it, or PassRejected('tier_not_accepted') when its level is not accepted here.
 * This city's own passes are returned as they are.
 */
export function asLocalTier(claims, trust) {
  const issuer = trust.issuers.get(claims.issuer);
  if (!issuer || !issuer.tierMap) return claims;
  const ours = issuer.tierMap.get(claims.tier);
  if (ours === undefined || !trust.tierLevels.has(ours)) throw new PassRejected('tier_not_accepted', 'tier');
  return { ...claims, tier: ours, issuer_tier: claims.tier };
}

/** What the verdict screen shows of verified claims: names, never identity. */
export function describeClaims(claims, trust) {
  const tierCode = trust.tierLevels.get(claims.tier) || '';
  return {
    tierCode,
    tierName: trust.tierNames[tierCode] || tierCode,
    kindName: claims.kind === 'company' ? '企业' : '个人',
    issuerName: trust.issuers.get(claims.issuer)?.name || String(claims.issuer),
  };
}
