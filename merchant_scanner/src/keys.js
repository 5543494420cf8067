// The cached public-key list. Verification offline is only as good as this list: a key revoked
// at the office must reach the scanner, so the list is refreshed often and scanning stops when
// the cached copy is older than MAX_AGE and cannot be refreshed.

import * as ed from '@noble/ed25519';
import { parseKeyList } from './verify.js';
import { publicKeyCheck } from './ed25519.js';
import { request } from './api.js';

// Each key is checked once, here, when a list is loaded (docs/pass-format.md, "The key list"):
// with noble's point arithmetic, which every browser runs, whichever engine verifies signatures.
const isValidKey = publicKeyCheck(ed);

export const MAX_AGE_MS = 24 * 3600 * 1000;
export const REFRESH_EVERY_MS = 10 * 60 * 1000;
const STORAGE_KEY = 'xym.scanner.keys';

export class KeyCache {
  constructor(storage = globalThis.localStorage) {
    this.storage = storage;
    this.entry = null; // {json, fetched_at, etag}
    this.trust = null;
    try {
      const saved = JSON.parse(storage.getItem(STORAGE_KEY) || 'null');
      if (saved && saved.json) this.set(saved);
    } catch { /* a corrupt cache is no cache */ }
  }

  set(entry) {
    this.trust = parseKeyList(entry.json, { isValidKey });
    this.entry = entry;
  }

  ageMs(now = Date.now()) { return this.entry ? now - this.entry.fetched_at : Infinity; }

  isUsable(now = Date.now()) { return Boolean(this.trust) && this.ageMs(now) <= MAX_AGE_MS; }

  /** Fetch the list (conditionally); resolves true when the cache is now fresh. */
  async refresh() {
    const headers = this.entry && this.entry.etag ? { 'If-None-Match': this.entry.etag } : {};
    const res = await request('GET', '/pass/keys', { headers, timeoutMs: 6000 });
    const now = Date.now();
    if (res.status === 304 && this.entry) {
      this.entry = { ...this.entry, fetched_at: now };
    } else if (res.status === 200 && res.body && Array.isArray(res.body.issuers)) {
      this.set({ json: res.body, fetched_at: now, etag: res.headers.get('ETag') });
    } else {
      return false;
    }
    try { this.storage.setItem(STORAGE_KEY, JSON.stringify(this.entry)); } catch { /* quota: keep in memory */ }
    return true;
  }
}

/** "3 分钟前" style age of the cached list ("刚刚" under a minute). */
export function describeAge(ms) {
  if (!Number.isFinite(ms)) return '从未更新';
  const min = Math.floor(ms / 60000);
  if (min < 1) return '刚刚';
  if (min < 60) return `${min} 分钟前`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} 小时前`;
  return `${Math.floor(h / 24)} 天前`;
}
