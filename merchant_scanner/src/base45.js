// Strict RFC 9285 base45, written out (not taken from a package) so that the scanner rejects
// exactly the inputs backend/pass/codec.py rejects: a wrong alphabet (lower case, newline, ...),
// a length of 1 mod 3, or a group whose value does not fit its bytes.

export const BASE45_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

const VALUE = new Map([...BASE45_ALPHABET].map((ch, i) => [ch, i]));

export class Base45Error extends Error {}

/** Decode base45 text to bytes; throws Base45Error on any malformed input. */
export function b45decode(text) {
  if (typeof text !== 'string') throw new Base45Error('base45 input');
  if (text.length % 3 === 1) throw new Base45Error('base45 length');
  const values = new Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const v = VALUE.get(text[i]);
    if (v === undefined) throw new Base45Error('base45 alphabet');
    values[i] = v;
  }
  const out = new Uint8Array(Math.floor(text.length / 3) * 2 + (text.length % 3 === 2 ? 1 : 0));
  let o = 0;
  for (let i = 0; i < values.length; i += 3) {
    if (i + 2 < values.length) {
      const n = values[i] + values[i + 1] * 45 + values[i + 2] * 45 * 45;
      if (n > 0xffff) throw new Base45Error('base45 group out of range');
      out[o++] = n >> 8;
      out[o++] = n & 0xff;
    } else {
      const n = values[i] + values[i + 1] * 45;
      if (n > 0xff) throw new Base45Error('base45 group out of range');
      out[o++] = n;
    }
  }
  return out;
}

/** Encode bytes as base45 (used by tests and to build tampered passes). */
export function b45encode(bytes) {
  let out = '';
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    let n = bytes[i] * 256 + bytes[i + 1];
    const e = Math.floor(n / 2025);
    n %= 2025;
    out += BASE45_ALPHABET[n % 45] + BASE45_ALPHABET[Math.floor(n / 45)] + BASE45_ALPHABET[e];
  }
  if (bytes.length % 2) {
    const n = bytes[bytes.length - 1];
    out += BASE45_ALPHABET[n % 45] + BASE45_ALPHABET[Math.floor(n / 45)];
  }
  return out;
}
