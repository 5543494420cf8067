// Signing in (phone and SMS code, or a sign-in link), out, and switching account.
import { $, client, hooks, HOLDER_KEY, state } from "./state.js";
import { showView, VIEWS } from "./screens.js";
import { chooseHolder } from "./holder.js";
import { clearQr, pass, stopPass } from "./pass.js";
import { records } from "./history.js";
import { say } from "../prefs.js";

/** A sign-in link carries the access token in its fragment, which the browser never sends to a server. */
export function takeTokenFromFragment() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    client.keep({ access_token: decodeURIComponent(match[1]) });
    history.replaceState(null, "", location.pathname);  // keep the token out of the history
  }
}

export function showSignin(message = "", { error = false } = {}) {
  stopPass();
  clearQr();
  pass.shown = false;
  state.account = null;
  for (const id of ["account", "tabs", "bind", ...VIEWS.map((name) => `view-${name}`)]) $(id).hidden = true;
  $("signin").hidden = false;
  say($("signin-error"), message, { error });
}

hooks.signedOut = (error) => showSignin(error.message);

async function sendCode() {
  try {
    await client.request("/api/auth/sms/send", { method: "POST", json: { phone: $("phone").value } });
    say($("signin-error"), "验证码已发送");
  } catch (error) { say($("signin-error"), error.message, { error: true }); }
}

async function login() {
  try {
    client.keep(await client.json("/api/auth/sms/login", {
      method: "POST", json: { phone: $("phone").value, code: $("code").value },
    }));
    $("code").value = "";
    await start();
  } catch (error) { say($("signin-error"), error.message, { error: true }); }
}

async function signOut(message) {
  stopPass();
  try { await client.request("/api/auth/logout", { method: "POST" }); } catch (_) { /* signed out here anyway */ }
  client.forget();
  localStorage.removeItem(HOLDER_KEY);
  records.items.clear();
  showSignin(message);
}

function switchAccount() {
  signOut("请登录要切换到的账号").then(() => { $("phone").value = ""; $("phone").focus(); });
}

/** Signed in: who, which holder, and the pass. */
export async function start() {
  try {
    state.account = await client.json("/api/auth/me");
  } catch (error) {
    if (error.status === 401) { client.forget(); showSignin(error.message, { error: true }); return; }
    state.account = null;  // offline: the pass view says so and recovers when the network returns
  }
  chooseHolder();
  $("signin").hidden = true;
  $("account").hidden = false;
  $("tabs").hidden = false;
  $("account-phone").textContent = state.account?.phone ? `当前账号 ${state.account.phone}` : "当前账号";
  showView("pass");
}

$("logout").addEventListener("click", () => signOut("已退出登录"));
$("switch-account").addEventListener("click", switchAccount);
$("send-code").addEventListener("click", sendCode);
$("login").addEventListener("click", login);
