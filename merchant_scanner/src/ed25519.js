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
 * does not have. zip215:false gives RFC 8032 strictness, as OpenSSL applies on the server.
 */
export function nobleVerifier(ed, sha512) {
  if (sha512 && !ed.hashes.sha512) ed.hashes.sha512 = sha512;
  return async function verifyEd25519(publicKey, signature, message) {
    try {
      return ed.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false; // a malformed key or signature is a failed check, as on the server
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
