// The citizen's page: sign in, show a 信用码 that refreshes itself and never goes blank while it is
// valid (offline it stays, with how long it still works), my credit and why, my history, and
// objections. Views are sections of one page; the session is kept on the phone (localStorage).
import { createClient } from "./api.js";
import { formatFen } from "./money.js";
import { largeTextSwitch, say } from "./prefs.js";
import { setupObjections } from "./objection-form.js";

const $ = (id) => document.getElementById(id);
const client = createClient({ storage: localStorage, name: "citizen", onSignedOut: (error) => showSignin(error.message) });
const HOLDER_KEY = "xym.citizen.holder";
// A failed refresh is retried after 2 s, then 4, 8 and every 15 s: soon enough to recover by
// itself when the network returns, gentle enough for a server that is struggling.
const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 15000;
const VIEWS = ["pass", "credit", "history", "objections"];
const dateTime = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
const dateOnly = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
  day: "2-digit" });

let account = null;    // /api/auth/me of the signed-in citizen
let holder = null;     // "person" or "company" for a company's representative; null lets the server choose
let view = null;
let tierNames = {};
const pass = {
  expiresAt: 0,        // local clock time until which the QR on screen is valid; 0 when none is shown
  shown: false,        // a code has been shown since sign-in (then a missing one "has expired")
  timer: null,         // the next refresh or retry
  retryMs: 0,
  failure: null,       // why the last refresh failed: "offline" (no answer) or "server" (5xx, 429)
  loading: null,
};
const records = { next: 1, items: new Map() };  // my history, as far as it has been paged

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const holderQuery = (prefix = "?") => (holder ? `${prefix}holder=${holder}` : "");

/** A sign-in link carries the access token in its fragment, which the browser never sends to a server. */
function takeTokenFromFragment() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    client.keep({ access_token: decodeURIComponent(match[1]) });
    history.replaceState(null, "", location.pathname);  // keep the token out of the history
  }
}

// -- signing in and out ----------------------------------------------------------------------------

function showSignin(message = "", { error = false } = {}) {
  stopPass();
  clearQr();
  pass.shown = false;
  account = null;
  for (const id of ["account", "tabs", "bind", ...VIEWS.map((name) => `view-${name}`)]) $(id).hidden = true;
  $("signin").hidden = false;
  say($("signin-error"), message, { error });
}

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
async function start() {
  try {
    account = await client.json("/api/auth/me");
  } catch (error) {
    if (error.status === 401) { client.forget(); showSignin(error.message, { error: true }); return; }
    account = null;  // offline: the pass view says so and recovers when the network returns
  }
  chooseHolder();
  $("signin").hidden = true;
  $("account").hidden = false;
  $("tabs").hidden = false;
  $("account-phone").textContent = account?.phone ? `当前账号 ${account.phone}` : "当前账号";
  showView("pass");
}

// -- whose pass: a company's representative chooses -------------------------------------------------

function chooseHolder() {
  const represents = Boolean(account?.companies?.length);
  $("holder-switch").hidden = !represents;
  if (!represents) { holder = null; return; }
  const saved = localStorage.getItem(HOLDER_KEY);
  holder = saved === "person" || saved === "company" ? saved : (account.identity_bound ? "person" : "company");
  markHolder();
}

function markHolder() {
  for (const button of $("holder-switch").querySelectorAll("button")) {
    button.setAttribute("aria-checked", String(button.dataset.holder === holder));
  }
}

function setHolder(choice) {
  if (choice === holder) return;
  holder = choice;
  localStorage.setItem(HOLDER_KEY, choice);
  markHolder();
  records.items.clear();
  clearQr();  // the other holder's code must not stay on screen
  showView(view, { reload: true });
}

// -- views ------------------------------------------------------------------------------------------

function showView(name, { reload = false } = {}) {
  const changed = name !== view;
  view = name;
  for (const other of VIEWS) $(`view-${other}`).hidden = other !== name;
  for (const tab of $("tabs").querySelectorAll("button")) {
    if (tab.dataset.view === name) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
  }
  $("bind").hidden = true;
  if (name !== "pass") stopPass();
  if (name === "pass" && (changed || reload || !pass.expiresAt)) refreshPass();
  if (name === "credit") loadCredit();
  if (name === "history" && (changed || reload)) loadHistory({ reset: true });
  if (name === "objections") objections.load();
}

// -- the pass ---------------------------------------------------------------------------------------

function stopPass() {
  clearTimeout(pass.timer);
  pass.timer = null;
}

function clearQr() {
  pass.expiresAt = 0;
  $("qr").innerHTML = "";
}

/** Fetch a new pass now (one request at a time); on failure keep the valid one and retry later. */
function refreshPass() {
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
  $("tier-name").textContent = tierNames[response.headers.get("X-Pass-Tier")] || "";
  showPassCard({ ok: true });
  tick();
  const refreshAfter = Number(response.headers.get("X-Pass-Refresh-After") || 45) * 1000;
  if (view === "pass") pass.timer = setTimeout(refreshPass, Math.min(refreshAfter, Math.max(1000, lifetime - 10000)));
}

function passRefused(error) {
  if (error.status === 401) { client.forget(); showSignin(error.message, { error: true }); return; }
  if (error.code === "holder_not_bound") { showBind(); return; }
  if (error.status === 0 || error.status === 429 || error.status >= 500) {
    // Not a refusal: the network or the server. The code on screen stays while it is valid.
    pass.failure = error.status === 0 ? "offline" : "server";
    pass.retryMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_FIRST_MS, pass.retryMs * 2));
    if (view === "pass") pass.timer = setTimeout(refreshPass, pass.retryMs);
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

function tick() {
  if (!pass.expiresAt) return;
  const left = Math.ceil((pass.expiresAt - Date.now()) / 1000);
  if (left <= 0) {
    showExpired();
    if (view === "pass" && !pass.timer && !pass.loading) refreshPass();
    return;
  }
  const state = offline() ? "离线" : pass.failure ? "暂时无法刷新" : null;
  $("pass-status").classList.toggle("warning", Boolean(state));
  $("countdown").textContent = state ? `${state}，此码仍可使用 ${left} 秒` : `${left} 秒后失效`;
}

async function explainRefusal() {
  $("pass-reasons").innerHTML = "";
  try {
    const credit = await client.json(`/api/me/credit${holderQuery()}`);
    for (const reason of credit.reasons) $("pass-reasons").appendChild(element("li", "", reason));
  } catch (_) { /* the message above still says why; the button leads to the details */ }
}

// -- identity -----------------------------------------------------------------------------------------

function showBind(message = "") {
  stopPass();
  clearQr();
  $("pass").hidden = true;
  $("bind").hidden = false;
  say($("bind-error"), message, { error: true });
}

// The ID number is checked here only to spare a round trip; the server checks it again (GB 11643).
function idNumberLooksValid(value) {
  if (!/^\d{17}[\dX]$/.test(value)) return false;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = weights.reduce((acc, w, i) => acc + w * Number(value[i]), 0);
  return "10X98765432"[sum % 11] === value[17];
}

async function bindIdentity() {
  const name = $("bind-name").value.trim();
  const idNumber = $("bind-id").value.trim().toUpperCase();
  if (!idNumberLooksValid(idNumber)) { say($("bind-error"), "身份证号码格式或校验位不正确", { error: true }); return; }
  $("bind-submit").disabled = true;
  try {
    await client.request("/api/auth/identity", { method: "POST", json: { name, id_number: idNumber } });
    $("bind-id").value = "";  // never keep the number on screen or in memory longer than needed
    $("bind-name").value = "";
    await start();
  } catch (error) {
    say($("bind-error"), error.message, { error: true });
  } finally {
    $("bind-submit").disabled = false;
  }
}

// -- my credit ----------------------------------------------------------------------------------------

async function loadCredit() {
  say($("credit-error"), "");
  let credit;
  try {
    credit = await client.json(`/api/me/credit${holderQuery()}`);
  } catch (error) {
    if (error.code === "holder_not_bound") { showBind(); return; }
    say($("credit-error"), error.message, { error: true });
    return;
  }
  $("credit-kind").textContent = credit.holder_kind === "company" ? "企业信用" : "个人信用";
  $("credit-tier").textContent = credit.tier_name;
  $("credit-tier").classList.toggle("bad", !credit.eligible);
  const verdict = credit.black_listed ? "已列入失信黑名单，暂不能享受信易+激励"
    : credit.eligible ? "可以享受信易+激励" : "暂不能享受信易+激励";
  $("credit-verdict").textContent = verdict;
  $("credit-verdict").classList.toggle("bad", !credit.eligible);
  $("credit-reasons").replaceChildren(...credit.reasons.map((reason) => element("li", "", reason)));
  $("credit-updated").textContent = credit.updated_at
    ? `信用数据更新于 ${dateOnly.format(new Date(credit.updated_at))}` : "";
  $("credit-routes").replaceChildren(...credit.routes.map((route) => {
    const item = element("li");
    item.append(element("strong", "", route.title), element("p", "", route.text));
    return item;
  }));
  const perks = credit.perks.map((perk) => {
    const item = element("li");
    item.append(element("div", "", perk.partner), element("div", "perk", perk.title));
    if (perk.address) item.append(element("div", "scenario", perk.address));
    return item;
  });
  if (!perks.length) perks.push(element("li", "hint", credit.eligible ? "暂无可享受的优惠" : "达到信用等级后可享受合作单位的优惠"));
  $("credit-perks").replaceChildren(...perks);
}

// -- my history ---------------------------------------------------------------------------------------

function historyItem(item) {
  const node = element("li", item.status === "voided" ? "voided" : "");
  const head = element("div", "row");
  head.append(element("strong", "", item.partner), element("span", "when", dateTime.format(new Date(item.at))));
  node.append(head, element("div", "perk", item.perk));
  const figures = [];
  if (item.amount_fen !== null) {
    figures.push(`消费 ${formatFen(item.amount_fen)}`, `优惠 ${formatFen(item.discount_fen)}`, `实付 ${formatFen(item.payable_fen)}`);
  }
  if (item.quota !== null) figures.push(`使用 ${item.quota} 次`);
  if (figures.length) node.append(element("div", "figures", figures.join("，")));
  const tags = element("div", "tags");
  if (item.status === "voided") tags.append(element("span", "tag bad", "已撤销"));
  if (item.offline) tags.append(element("span", "tag", "离线核销"));
  if (item.holder_kind === "company") tags.append(element("span", "tag", "企业"));
  const object = element("button", "link", "对此记录提出异议");
  object.type = "button";
  object.addEventListener("click", () => objections.start("redemption", item.id));
  tags.append(object);
  node.append(tags);
  return node;
}

async function loadHistory({ reset = false } = {}) {
  if (reset) {
    records.next = 1;
    records.items.clear();
    $("history-list").replaceChildren();
  }
  if (records.next === null) return;
  say($("history-error"), "");
  $("history-more").disabled = true;
  try {
    const page = await client.json(`/api/me/redemptions?page=${records.next}${holderQuery("&")}`);
    for (const item of page.items) {
      records.items.set(item.id, item);
      $("history-list").appendChild(historyItem(item));
    }
    records.next = page.next;
  } catch (error) {
    if (error.code === "holder_not_bound") { showBind(); return; }
    say($("history-error"), error.message, { error: true });
  } finally {
    $("history-more").disabled = false;
  }
  $("history-more").hidden = records.next === null;
  $("history-empty").hidden = records.items.size > 0 || $("history-error").textContent !== "";
}

// -- objections (the form and the list live in objection-form.js) ------------------------------------

const objections = setupObjections({
  client,
  showView,
  history: async () => {
    if (!records.items.size) await loadHistory({ reset: true });
    return [...records.items.values()];
  },
});

// -- the directory under the pass ---------------------------------------------------------------------

async function loadDirectory() {
  const [keys, directory] = await Promise.all([client.json("/api/pass/keys"), client.json("/api/partners")]);
  tierNames = keys.tiers;
  const seen = new Set();
  const items = [];
  for (const partner of directory.partners) {
    if (seen.has(partner.id)) continue;  // each partner once
    seen.add(partner.id);
    const item = element("li");
    item.append(element("div", "", partner.name), element("div", "scenario",
      [partner.scenario, partner.address].filter(Boolean).join(" · ")),
      element("div", "perk", partner.perks.map((perk) => perk.title).join("；")));
    items.push(item);
  }
  $("partner-list").replaceChildren(...items);
}

// -- wiring -------------------------------------------------------------------------------------------

takeTokenFromFragment();
largeTextSwitch($("large-text"));
$("bind-submit").addEventListener("click", bindIdentity);
$("logout").addEventListener("click", () => signOut("已退出登录"));
$("switch-account").addEventListener("click", switchAccount);
$("send-code").addEventListener("click", sendCode);
$("login").addEventListener("click", login);
$("refresh").addEventListener("click", () => { pass.retryMs = 0; refreshPass(); });
$("pass-to-credit").addEventListener("click", () => showView("credit"));
$("credit-object").addEventListener("click", () => objections.start("credit"));
$("history-more").addEventListener("click", () => loadHistory());
for (const tab of $("tabs").querySelectorAll("button")) tab.addEventListener("click", () => showView(tab.dataset.view));
for (const button of $("holder-switch").querySelectorAll("button")) {
  button.addEventListener("click", () => setHolder(button.dataset.holder));
}
setInterval(tick, 1000);
// The network is back: refresh now rather than at the next retry.
window.addEventListener("online", () => {
  if (!client.accessToken()) return;
  pass.retryMs = 0;
  if (!account) start(); else if (view === "pass") refreshPass();
});
window.addEventListener("offline", tick);
// A sign-in link opened while the page is open only changes the fragment: take its token too.
window.addEventListener("hashchange", () => {
  if (!location.hash.includes("token=")) return;
  takeTokenFromFragment();
  start();
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && view === "pass" && client.accessToken()
      && pass.expiresAt - Date.now() < 10000) refreshPass();
});
await loadDirectory().catch(() => {});
if (client.accessToken()) await start(); else showSignin();
