// Client ids and times. crypto.randomUUID exists only in secure contexts and newer WebViews;
// getRandomValues exists everywhere the scanner runs.

export function uuid4(cryptoObj = globalThis.crypto) {
  if (cryptoObj && typeof cryptoObj.randomUUID === 'function') return cryptoObj.randomUUID();
  const b = cryptoObj.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000; // China keeps UTC+8 all year

/** The business day (Asia/Shanghai) of a moment, as YYYY-MM-DD. */
export function shanghaiDay(ms = Date.now()) {
  return new Date(ms + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** "14:05" in Asia/Shanghai. */
export function shanghaiTime(iso) {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  return new Date(ms + SHANGHAI_OFFSET_MS).toISOString().slice(11, 16);
}
