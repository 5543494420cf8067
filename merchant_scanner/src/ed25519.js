// Ed25519 signature checks for verify.js: WebCrypto where the browser has it (Chrome 113+,
// Safari 17, Node 20), @noble/ed25519 otherwise (WeChat's browser and older phones). Both are
// factories taking their engine, so the Node tests exercise exactly these wrappers.

/** WebCrypto path. Imported keys are cached: one import per key, not per scan. */
export function webCryptoVerifier(subtle) {
  const cache = new Map();
  return async function verifyEd25519(publicKey, signature, message) {
    const id = Array.from(publicKey).join(',');
    let key = cache.get(id);
    if (!key) {
      key = await subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
      cache.set(id, key);
    }
    return subtle.verify({ name: 'Ed25519' }, key, signature, message);
  };
}

/**
 * noble path. `ed` is the @noble/ed25519 module, `sha512` from @noble/hashes: noble's own
 * default hashes through crypto.subtle, which a page served over plain HTTP (or an old WebView)
 * does not have. zip215:false refuses non-canonical encodings, S >= L and small-order keys, but
 * checks the cofactored equation ([8]([S]B - R - [k]A) = 0), which also holds when R carries a
 * small-order component; libsodium on the server and WebCrypto check [S]B - [k]A = R exactly.
 * With A of prime order (publicKeyCheck) the two agree once R is of prime order too.
 */
export function nobleVerifier(ed, sha512) {
  if (sha512 && !ed.hashes.sha512) ed.hashes.sha512 = sha512;
  return async function verifyEd25519(publicKey, signature, message) {
    try {
      return ed.verify(signature, message, publicKey, { zip215: false })
        && ed.Point.fromBytes(signature.subarray(0, 32), false).isTorsionFree();
    } catch {
      return false; // a malformed key or signature is a failed check, as on the server
    }
  };
}

/**
 * The key list's check of one public key (`isValidKey` of parseKeyList), as libsodium's
 * crypto_core_ed25519_is_valid_point on the server: the canonical encoding of a point of the
 * prime-order subgroup. Refuses y >= p, the small-order points under every encoding (a pass
 * "signed" under the identity is R = B, S = 1, and WebCrypto accepts it), points off the curve
 * and points with a small-order component. `ed` is the @noble/ed25519 module; no hashing needed.
 */
export function publicKeyCheck(ed) {
  return function isValidKey(publicKey) {
    try {
      const point = ed.Point.fromBytes(publicKey, false);
      return !point.isSmallOrder() && point.isTorsionFree();
    } catch {
      return false; // not 32 bytes, or no point at all
    }
  };
}

/** Does this WebCrypto really verify Ed25519? Some advertise subtle but not the algorithm. */
export async function webCryptoSupportsEd25519(subtle) {
  if (!subtle) return false;
  try {
    // RFC 8032 test 1: empty message.
    const hex = (h) => Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));
    const pub = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const sig = hex('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155'
      + '5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b');
    return await webCryptoVerifier(subtle)(pub, sig, new Uint8Array(0));
  } catch {
    return false;
  }
}
