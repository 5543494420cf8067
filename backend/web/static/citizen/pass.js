// The 信用码 screen: a QR that refreshes itself and never goes blank while it is valid (offline it
// stays, with how long it still works); a refusal says why and leads to the reasons.
import { $, client, element, holderQuery, state } from "./state.js";
import { registerScreen, showView } from "./screens.js";
import { showSignin } from "./signin.js";
import { showBind } from "./identity.js";
import { showConsent } from "./consent.js";
import { say } from "../prefs.js";

// A failed refresh is retried after 2 s, then 4, 8 and every 15 s: soon enough to recover by
// itself when the network returns, gentle enough for a server that is struggling.
const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 15000;

export const pass = {
  expiresAt: 0,        // local clock time until which the QR on screen is valid; 0 when none is shown
  shown: false,        // a code has been shown since sign-in (then a missing one "has expired")
  timer: null,         // the next refresh or retry
  retryMs: 0,
  failure: null,       // why the last refresh failed: "offline" (no answer) or "server" (5xx, 429)
  loading: null,
};

export function stopPass() {
  clearTimeout(pass.timer);
  pass.timer = null;
}

export function clearQr() {
  pass.expiresAt = 0;
  $("qr").innerHTML = "";
}

/** Fetch a new pass now (one request at a time); on failure keep the valid one and retry later. */
export function refreshPass() {
  stopPass();
  pass.loading = pass.loading || fetchPass().finally(() => { pass.loading = null; });
  return pass.loading;
}

async function fetchPass() {
  let response;
  let svg;
  try {
    response = await client.request(`/api/pass/qr.svg${holderQuery()}`);
    svg = await response.text();
  } catch (error) {
    passRefused(error);
    return;
  }
  // How long the code lives, measured on the server's clock and counted on ours, so that a phone
  // whose clock is wrong still counts down the right number of seconds.
  const received = Date.now();
  const expires = Date.parse(response.headers.get("X-Pass-Expires-At"));
  const served = Date.parse(response.headers.get("Date"));
  const lifetime = Number.isNaN(served) ? expires - received : expires - served - 1000;
  pass.expiresAt = received + lifetime;
  pass.shown = true;
  pass.failure = null;
  pass.retryMs = 0;
  $("qr").innerHTML = svg;
  const kind = response.headers.get("X-Pass-Holder-Kind");
  $("holder-kind").textContent = kind === "company" ? "企业信用码" : "个人信用码";
  $("tier-name").textContent = state.tierNames[response.headers.get("X-Pass-Tier")] || "";
  showPassCard({ ok: true });
  tick();
  const refreshAfter = Number(response.headers.get("X-Pass-Refresh-After") || 45) * 1000;
  if (state.view === "pass") pass.timer = setTimeout(refreshPass, Math.min(refreshAfter, Math.max(1000, lifetime - 10000)));
}

function passRefused(error) {
  if (error.status === 401) { client.forget(); showSignin(error.message, { error: true }); return; }
  if (error.code === "holder_not_bound") { showBind(); return; }
  if (error.code === "consent_required") { showConsent(); return; }  // a new notice since sign-in
  if (error.status === 0 || error.status === 429 || error.status >= 500) {
    // Not a refusal: the network or the server. The code on screen stays while it is valid.
    pass.failure = error.status === 0 ? "offline" : "server";
    pass.retryMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_FIRST_MS, pass.retryMs * 2));
    if (state.view === "pass") pass.timer = setTimeout(refreshPass, pass.retryMs);
    if (pass.expiresAt > Date.now()) tick(); else showExpired();
    return;
  }
  // A refusal (black-listed, not eligible): say why and where to go, never an empty box.
  clearQr();
  showPassCard({ ok: false });
  say($("pass-error"), error.message, { error: true });
  explainRefusal();
}

function showPassCard({ ok }) {
  $("bind").hidden = true;
  $("pass").hidden = false;
  $("qr").hidden = !ok;
  $("qr-expired").hidden = true;
  $("pass-status").hidden = !ok;
  $("pass-hint").hidden = !ok;
  $("refresh").hidden = !ok;
  $("pass-help").hidden = ok;
  if (ok) say($("pass-error"), "");
}

function showExpired() {
  clearQr();
  showPassCard({ ok: true });
  $("qr").hidden = true;
  $("qr-expired").hidden = false;
  $("qr-expired-title").textContent = pass.shown ? "此码已失效" : "暂未取得信用码";
  $("pass-hint").hidden = true;
  $("countdown").textContent = offline() ? "网络未连接，联网后自动刷新" : "正在刷新…";
  $("pass-status").classList.add("warning");
}

const offline = () => pass.failure === "offline" || navigator.onLine === false;

export function tick() {
  if (!pass.expiresAt) return;
  const left = Math.ceil((pass.expiresAt - Date.now()) / 1000);
  if (left <= 0) {
    showExpired();
    if (state.view === "pass" && !pass.timer && !pass.loading) refreshPass();
    return;
  }
  const status = offline() ? "离线" : pass.failure ? "暂时无法刷新" : null;
  $("pass-status").classList.toggle("warning", Boolean(status));
  $("countdown").textContent = status ? `${status}，此码仍可使用 ${left} 秒` : `${left} 秒后失效`;
}

async function explainRefusal() {
  $("pass-reasons").innerHTML = "";
  try {
    const credit = await client.json(`/api/me/credit${holderQuery()}`);
    for (const reason of credit.reasons) $("pass-reasons").appendChild(element("li", "", reason));
  } catch (_) { /* the message above still says why; the button leads to the details */ }
}

registerScreen("pass", {
  enter: ({ changed, reload }) => { if (changed || reload || !pass.expiresAt) refreshPass(); },
  leave: stopPass,
});

$("refresh").addEventListener("click", () => { pass.retryMs = 0; refreshPass(); });
$("pass-to-credit").addEventListener("click", () => showView("credit"));
setInterval(tick, 1000);
window.addEventListener("offline", tick);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.view === "pass" && client.accessToken()
      && pass.expiresAt - Date.now() < 10000) refreshPass();
});
