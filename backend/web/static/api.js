// The one client the citizen page and the office dashboard use for /api/: the bearer token from
// the page's storage, one refresh at a time when the access token has expired, and problem+json
// answers turned into an ApiError that carries the server's code and Chinese message.

/** A refused request: `code` is the server's stable code, `message` its Chinese text for people. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.message);
    this.name = "ApiError";
    this.status = status;
    this.code = problem.code;
    this.problem = problem;
  }
}

// No answer, or one that is not ours (a proxy's HTML page): never show the browser's English text.
const UNREACHABLE = { code: "network", message: "网络异常，请稍后再试" };

async function problemOf(response) {
  try {
    const problem = await response.json();
    if (problem && problem.code) return new ApiError(response.status, problem);
  } catch (_) { /* not JSON */ }
  return new ApiError(response.status, UNREACHABLE);
}

/**
 * A client whose session lives in `storage` (localStorage for the citizen, who stays signed in;
 * sessionStorage for the office, signed out with the tab) under `name`. `onSignedOut` runs when
 * the server refuses the session and no refresh can save it.
 */
export function createClient({ storage, name, onSignedOut = () => {} }) {
  const accessKey = `xym.${name}.access`;
  const refreshKey = `xym.${name}.refresh`;
  let refreshing = null;

  const client = {
    accessToken: () => storage.getItem(accessKey),

    /** Keep a token pair from a sign-in or refresh ({access_token, refresh_token?}). */
    keep(session) {
      storage.setItem(accessKey, session.access_token);
      if (session.refresh_token) storage.setItem(refreshKey, session.refresh_token);
    },

    forget() {
      storage.removeItem(accessKey);
      storage.removeItem(refreshKey);
    },

    /** Trade the refresh token for a new pair. One at a time: a second use would end the session. */
    refresh() {
      const refreshToken = storage.getItem(refreshKey);
      if (!refreshToken) return Promise.resolve(false);
      refreshing = refreshing || fetch("/api/auth/refresh", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refreshToken }),
      }).then(async (response) => {
        if (!response.ok) { client.forget(); return false; }
        client.keep(await response.json());
        return true;
      }).catch(() => false).finally(() => { refreshing = null; });
      return refreshing;
    },

    /**
     * The Response of `path` (under /api/), or an ApiError. `json` is sent as a JSON body; `body`
     * as it is (a FormData upload). A 401 on a signed-in request refreshes once and retries.
     */
    async request(path, { method = "GET", json, body, headers = {} } = {}) {
      const send = () => {
        const token = client.accessToken();
        const sent = { ...headers };
        if (token) sent.Authorization = `Bearer ${token}`;
        if (json !== undefined) sent["Content-Type"] = "application/json";
        return fetch(path, { method, headers: sent, body: json !== undefined ? JSON.stringify(json) : body });
      };
      const hadToken = Boolean(client.accessToken());
      let response;
      try {
        response = await send();
        if (response.status === 401 && hadToken && await client.refresh()) response = await send();
      } catch (_) {
        throw new ApiError(0, UNREACHABLE);
      }
      if (response.ok) return response;
      const error = await problemOf(response);
      if (response.status === 401 && hadToken) {
        client.forget();
        onSignedOut(error);
      }
      throw error;
    },

    /** request() and its JSON body. */
    async json(path, options) {
      return (await client.request(path, options)).json();
    },
  };
  return client;
}
