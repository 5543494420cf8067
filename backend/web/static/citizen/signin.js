// Signing in (phone and SMS code with a resend countdown, WeChat inside the 公众号, or a sign-in
// link), out, and switching account. A first sign-in goes through the privacy notice (consent.js).
import { $, client, hooks, HOLDER_KEY, state } from "./state.js";
import { showView, VIEWS } from "./screens.js";
import { chooseHolder } from "./holder.js";
import { needsConsent, showConsent } from "./consent.js";
import { clearQr, pass, stopPass } from "./pass.js";
import { records } from "./history.js";
import { say } from "../prefs.js";

// After a code is sent, the next one can be asked for after this long (the server allows one a minute).
const RESEND_SECONDS = 60;
const resend = { until: 0, timer: null };

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
  for (const id of ["account", "tabs", "bind", "consent", "erase", ...VIEWS.map((name) => `view-${name}`)]) {
    $(id).hidden = true;
  }
  $("signin").hidden = false;
  offerWeChat();
  say($("signin-error"), message, { error });
}

hooks.signedOut = (error) => showSignin(error.message);

/** WeChat's web sign-in works only inside WeChat, and only where the city has set up its 公众号. */
async function offerWeChat() {
  if (!/MicroMessenger/i.test(navigator.userAgent)) return;
  try {
    const methods = await client.json("/api/auth/methods");
    $("wechat-signin").hidden = !methods.wechat_web;
    if (methods.wechat_web) $("signin-hint").textContent = "也可以使用手机号和短信验证码登录。";
  } catch (_) { /* offline: the SMS form is there */ }
}

/** The send button waits `seconds`, counting down on itself, before a new code can be asked for. */
function waitToResend(seconds) {
  resend.until = Date.now() + seconds * 1000;
  clearInterval(resend.timer);
  const show = () => {
    const left = Math.ceil((resend.until - Date.now()) / 1000);
    $("send-code").disabled = left > 0;
    $("send-code").textContent = left > 0 ? `重新获取（${left} 秒）` : "重新获取验证码";
    $("resend-hint").hidden = left <= 0;
    $("resend-hint").textContent = left > 0 ? "没收到短信？请核对手机号，倒计时结束后可重新获取" : "";
    if (left <= 0) clearInterval(resend.timer);
  };
  show();
  resend.timer = setInterval(show, 1000);
}

async function sendCode() {
  if (Date.now() < resend.until) return;
  $("send-code").disabled = true;
  try {
    await client.request("/api/auth/sms/send", { method: "POST", json: { phone: $("phone").value } });
    say($("signin-error"), "验证码已发送，5 分钟内有效");
    waitToResend(RESEND_SECONDS);
    $("code").focus();
  } catch (error) {
    // "操作过于频繁，请 42 秒后再试": the server says how long, and the button counts it down.
    say($("signin-error"), error.message, { error: true });
    const wait = Number(error.problem?.retry_after);
    if (error.code === "rate_limited" && wait > 0) waitToResend(wait); else $("send-code").disabled = false;
  }
}

/** Back from WeChat's authorize page (/m/?code=…&state=…): trade the code for a session. */
export async function takeWeChatCode() {
  const query = new URLSearchParams(location.search);
  const code = query.get("code");
  const wechatState = query.get("state");
  if (!code || !wechatState) return false;
  history.replaceState(null, "", location.pathname);  // a code is used once: keep it out of the history
  try {
    client.keep(await client.json("/api/auth/wechat/web/login", { method: "POST", json: { code, state: wechatState } }));
    return true;
  } catch (error) {
    showSignin(error.message, { error: true });
    return false;
  }
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

/** Forget the session on this phone (the server has ended it, or will not be asked). */
export function forgetHere(message, options) {
  stopPass();
  client.forget();
  localStorage.removeItem(HOLDER_KEY);
  records.items.clear();
  showSignin(message, options);
}

async function signOut(message) {
  stopPass();
  try { await client.request("/api/auth/logout", { method: "POST" }); } catch (_) { /* signed out here anyway */ }
  forgetHere(message);
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
  $("signin").hidden = true;
  if (needsConsent(state.account)) { showConsent(); return; }
  chooseHolder();
  $("account").hidden = false;
  $("tabs").hidden = false;
  $("account-phone").textContent = state.account?.phone ? `当前账号 ${state.account.phone}` : "当前账号";
  showView("pass");
}

$("logout").addEventListener("click", () => signOut("已退出登录"));
$("switch-account").addEventListener("click", switchAccount);
$("send-code").addEventListener("click", sendCode);
$("login").addEventListener("click", login);
$("wechat-signin").addEventListener("click", () => { location.href = "/api/auth/wechat/web"; });
