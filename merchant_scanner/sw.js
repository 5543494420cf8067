// Service worker: the app shell and its npm files (the 1 MB zxing wasm included) are cached at
// install, so a scanner that loaded once keeps working with no network. The API is never
// cached here: the key list has its own cache with an age limit (src/keys.js) and redemptions
// go through the outbox (src/queue.js).
//
// Bump VERSION whenever a file below changes shape; the shell is also revalidated in the
// background on every load, so ordinary edits arrive on the next start.

const VERSION = 'xym-scanner-v3';

const SHELL = [
  './',
  './index.html',
  './styles.css',
  './manifest.webmanifest',
  './icons/icon-192.png',
  './icons/icon-512.png',
  './icons/icon-maskable-512.png',
  './src/app.js',
  './src/api.js',
  './src/base45.js',
  './src/camera.js',
  './src/ed25519.js',
  './src/ids.js',
  './src/keys.js',
  './src/legacy.js',
  './src/messages.js',
  './src/money.js',
  './src/perks.js',
  './src/platform.js',
  './src/queue.js',
  './src/session.js',
  './src/sync.js',
  './src/timing.js',
  './src/ui.js',
  './src/verify.js',
  './src/screens/enrol.js',
  './src/screens/perk.js',
  './src/screens/scan.js',
  './src/screens/settings.js',
  './src/screens/today.js',
  './src/screens/verdict.js',
];

const VENDOR = [
  './vendor/es-module-shims/dist/es-module-shims.js',
  './vendor/@noble/ed25519/index.js',
  './vendor/@noble/hashes/sha2.js',
  './vendor/@noble/hashes/_md.js',
  './vendor/@noble/hashes/_u64.js',
  './vendor/@noble/hashes/utils.js',
  './vendor/idb/build/index.js',
  './vendor/barcode-detector/dist/es/ponyfill.js',
  './vendor/barcode-detector/dist/es/zxing-exported.js',
  './vendor/zxing-wasm/dist/reader/zxing_reader.wasm',
];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(VERSION);
    await cache.addAll([...SHELL, ...VENDOR]);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('xym-scanner-') && name !== VERSION) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  const scope = new URL(self.registration.scope);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return; // the API etc.
  if (url.pathname.startsWith(`${scope.pathname}vendor/`)) {
    event.respondWith(cacheFirst(request));
  } else {
    event.respondWith(staleWhileRevalidate(request, event));
  }
});

async function cacheFirst(request) {
  const cache = await caches.open(VERSION);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) cache.put(request, response.clone());
  return response;
}

/** Answer from the cache at once (a weak network must not slow the counter), refresh behind. */
async function staleWhileRevalidate(request, event) {
  const cache = await caches.open(VERSION);
  const key = request.mode === 'navigate' ? './' : request;
  const hit = await cache.match(key, { ignoreSearch: request.mode === 'navigate' });
  const refresh = fetch(request).then((response) => {
    if (response.ok) return cache.put(key, response.clone()).then(() => response);
    return response;
  });
  if (hit) {
    event.waitUntil(refresh.catch(() => {}));
    return hit;
  }
  return refresh;
}
