// Picks the engines at run time: WebCrypto Ed25519 or @noble/ed25519, native BarcodeDetector or
// the zxing-wasm polyfill, whose .wasm is served by us (never a CDN: offline and inside China a
// CDN fetch fails). `?engine=noble` and `?detector=zxing` force the fallbacks for testing.

import { webCryptoSupportsEd25519, webCryptoVerifier, nobleVerifier } from './ed25519.js';

const params = new URLSearchParams(globalThis.location ? location.search : '');
let verifierPromise = null;
let detectorPromise = null;

export function getVerifier() {
  if (!verifierPromise) {
    verifierPromise = (async () => {
      const subtle = globalThis.crypto && globalThis.crypto.subtle;
      if (params.get('engine') !== 'noble' && await webCryptoSupportsEd25519(subtle)) {
        return { verify: webCryptoVerifier(subtle), engine: 'WebCrypto' };
      }
      const [ed, hashes] = await Promise.all([import('@noble/ed25519'), import('@noble/hashes/sha2.js')]);
      return { verify: nobleVerifier(ed, hashes.sha512), engine: '@noble/ed25519' };
    })();
  }
  return verifierPromise;
}

export const WASM_URL = new URL('../vendor/zxing-wasm/dist/reader/zxing_reader.wasm', import.meta.url).href;

export function getDetector() {
  if (!detectorPromise) {
    detectorPromise = (async () => {
      if (params.get('detector') !== 'zxing' && typeof globalThis.BarcodeDetector === 'function') {
        try {
          const formats = await globalThis.BarcodeDetector.getSupportedFormats();
          if (formats.includes('qr_code')) {
            return { detector: new globalThis.BarcodeDetector({ formats: ['qr_code'] }), kind: '系统识别' };
          }
        } catch { /* fall through to the polyfill */ }
      }
      const mod = await import('barcode-detector/ponyfill');
      // Compile the wasm now, from our own server, so the first frame does not wait for it.
      await mod.prepareZXingModule({
        overrides: {
          locateFile: (path, prefix) => (path.endsWith('.wasm') ? WASM_URL : prefix + path),
        },
        fireImmediately: true,
      });
      return { detector: new mod.BarcodeDetector({ formats: ['qr_code'] }), kind: 'zxing-wasm' };
    })();
    detectorPromise.catch(() => { detectorPromise = null; });
  }
  return detectorPromise;
}
