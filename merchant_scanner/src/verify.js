// The twelve verification rules of docs/pass-format.md, in order, with the same codes and reasons
// as backend/pass/codec.py. Pure: no DOM, no network, no third-party import, so the browser and
// the Node tests run exactly this code. The Ed25519 check is injected as
// `verifyEd25519(publicKey, signature, message) -> Promise<boolean>` (see ed25519.js).

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

export function base64urlDecode(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Unix seconds from what a key list carries: ISO 8601 from the API, numbers in the vectors. */
function toUnix(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return value;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`bad time in key list: ${value}`);
  return Math.floor(ms / 1000);
}

/**
 * Turn `GET /api/pass/keys` (or the vectors file, which uses Unix seconds and `tiers` keyed by
 * level) into the lookup structure the rules need.
 */
export function parseKeyList(json) {
  const issuers = new Map();
  for (const entry of json.issuers || []) {
    const keys = new Map();
    for (const k of entry.keys || []) {
      if (k.alg && k.alg !== 'Ed25519') continue; // a key we cannot check is a key we do not know
      keys.set(Number(k.kid), {
        publicKey: base64urlDecode(k.public_key),
        status: k.status,
        notBefore: toUnix(k.not_before),
        notAfter: toUnix(k.not_after),
      });
    }
    issuers.set(Number(entry.issuer), { name: entry.name || String(entry.issuer), keys });
  }
  // The API publishes level -> code in `tier_levels` and code -> name in `tiers`; the vectors
  // publish level -> code in `tiers`.
  const levelSource = json.tier_levels || json.tiers || {};
  const tierLevels = new Map();
  for (const [level, code] of Object.entries(levelSource)) {
    if (/^\d+$/.test(level)) tierLevels.set(Number(level), code);
  }
  const tierNames = json.tier_levels ? { ...(json.tiers || {}) } : {};
  const skew = Number.isInteger(json.skew_seconds) ? json.skew_seconds
    : Number.isInteger(json.skew) ? json.skew : DEFAULT_SKEW_SECONDS;
  return { issuers, tierLevels, tierNames, skew };
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
  if (!(await verifyEd25519(key.publicKey, signature, message))) {
    throw new PassRejected('pass_invalid', 'signature');
  }
  if (!claims.kind || !trust.tierLevels.has(claims.tier)) throw new PassRejected('pass_invalid', 'claims');
  const lifetimeOk = claims.issued_at < claims.expires_at
    && claims.expires_at <= claims.issued_at + MAX_LIFETIME_SECONDS;
  const keyWindowOk = key.notBefore - skew <= claims.issued_at
    && (key.notAfter === null || claims.issued_at <= key.notAfter + skew);
  if (!(lifetimeOk && keyWindowOk)) throw new PassRejected('pass_invalid', 'window');
  if (claims.issued_at > now + skew) throw new PassRejected('pass_not_yet_valid', 'not_yet_valid');
  if (now >= claims.expires_at + skew) throw new PassRejected('pass_expired', 'expired');
  return claims;
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
