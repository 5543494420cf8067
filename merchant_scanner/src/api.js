// A small JSON client for the backend. It returns {status, body} for every HTTP answer (a
// problem+json body included) and throws NetworkError only when no answer arrived: the outbox
// relies on that difference to decide between "settled" and "retry later".

export class NetworkError extends Error {
  constructor(message, cause) { super(message); this.name = 'NetworkError'; this.cause = cause; }
}

// The app lives at <root>/scanner/, the API at <root>/api/.
export const API_ROOT = new URL('../../api/', import.meta.url).href;

export async function request(method, path, { token, body, timeoutMs = 8000, headers = {} } = {}) {
  if (typeof navigator !== 'undefined' && navigator.onLine === false) {
    throw new NetworkError('offline');
  }
  const controller = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = controller ? setTimeout(() => controller.abort(), timeoutMs) : null;
  let response;
  try {
    response = await fetch(API_ROOT + path.replace(/^\//, ''), {
      method,
      headers: {
        Accept: 'application/json',
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: controller ? controller.signal : undefined,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (err) {
    throw new NetworkError(err && err.name === 'AbortError' ? 'timeout' : 'network', err);
  } finally {
    if (timer) clearTimeout(timer);
  }
  let data = null;
  const type = response.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try { data = await response.json(); } catch { data = null; }
  }
  return { status: response.status, body: data, headers: response.headers };
}
