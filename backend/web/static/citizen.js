// The citizen's page: sign in, show a fresh 信用码 that refreshes itself, list where it can be used.
import { createClient } from "./api.js";

const $ = (id) => document.getElementById(id);
// The citizen stays signed in on their own phone: the session is kept in localStorage.
const client = createClient({ storage: localStorage, name: "citizen" });
let refreshTimer = null;
let countdownTimer = null;

/** A sign-in link carries the access token in its fragment, which the browser never sends to a server. */
function takeTokenFromFragment() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    client.keep({ access_token: decodeURIComponent(match[1]) });
    history.replaceState(null, "", location.pathname);  // keep the token out of the history
  }
}

function showSignin(message = "") {
  $("signin").hidden = false;
  $("pass").hidden = true;
  $("bind").hidden = true;
  $("signin-error").textContent = message;
}

async function showPass() {
  clearTimeout(refreshTimer);
  clearInterval(countdownTimer);
  try {
    const response = await client.request("/api/pass/qr.svg");
    $("qr").innerHTML = await response.text();
    const expiresAt = new Date(response.headers.get("X-Pass-Expires-At"));
    const refreshAfter = Number(response.headers.get("X-Pass-Refresh-After") || 45);
    const kind = response.headers.get("X-Pass-Holder-Kind");
    $("holder-kind").textContent = kind === "company" ? "企业信用码" : "个人信用码";
    $("tier-name").textContent = tierNames[response.headers.get("X-Pass-Tier")] || "";
    $("signin").hidden = true;
    $("bind").hidden = true;
    $("pass").hidden = false;
    $("pass-error").textContent = "";
    const tick = () => {
      const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
      $("countdown").textContent = `${left} 秒后失效`;
    };
    tick();
    countdownTimer = setInterval(tick, 1000);
    refreshTimer = setTimeout(showPass, refreshAfter * 1000);
  } catch (error) {
    if (error.status === 401) {
      client.forget();
      showSignin(error.message);
      return;
    }
    if (error.code === "holder_not_bound") {
      showBind();
      return;
    }
    $("pass").hidden = false;
    $("signin").hidden = true;
    $("qr").innerHTML = "";
    $("pass-error").textContent = error.message;
  }
}

let tierNames = {};

async function loadDirectory() {
  const [keys, partners] = await Promise.all([
    client.json("/api/pass/keys"),
    client.json("/api/partners"),
  ]);
  tierNames = keys.tiers;
  $("partner-list").innerHTML = "";
  for (const partner of partners.partners) {
    const item = document.createElement("li");
    const perks = partner.perks.map((perk) => perk.title).join("；");
    item.innerHTML = `<div></div><div class="scenario"></div><div class="perk"></div>`;
    item.children[0].textContent = partner.name;
    item.children[1].textContent = partner.scenario;
    item.children[2].textContent = perks;
    $("partner-list").appendChild(item);
  }
}

async function sendCode() {
  try {
    await client.request("/api/auth/sms/send", { method: "POST", json: { phone: $("phone").value } });
    $("signin-error").textContent = "验证码已发送";
  } catch (error) { $("signin-error").textContent = error.message; }
}

async function login() {
  try {
    client.keep(await client.json("/api/auth/sms/login", {
      method: "POST", json: { phone: $("phone").value, code: $("code").value },
    }));
    await showPass();
  } catch (error) { $("signin-error").textContent = error.message; }
}

function showBind(message = "") {
  $("signin").hidden = true;
  $("pass").hidden = true;
  $("bind").hidden = false;
  $("bind-error").textContent = message;
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
  if (!idNumberLooksValid(idNumber)) { $("bind-error").textContent = "身份证号码格式或校验位不正确"; return; }
  $("bind-submit").disabled = true;
  try {
    await client.request("/api/auth/identity", { method: "POST", json: { name, id_number: idNumber } });
    $("bind-id").value = "";  // never keep the number on screen or in memory longer than needed
    $("bind-name").value = "";
    await showPass();
  } catch (error) {
    $("bind-error").textContent = error.message;
  } finally {
    $("bind-submit").disabled = false;
  }
}

async function logout() {
  try { await client.request("/api/auth/logout", { method: "POST" }); } catch (_) { /* signed out anyway */ }
  client.forget();
  clearTimeout(refreshTimer);
  clearInterval(countdownTimer);
  showSignin("已退出登录");
}

takeTokenFromFragment();
$("bind-submit").addEventListener("click", bindIdentity);
$("logout").addEventListener("click", logout);
$("send-code").addEventListener("click", sendCode);
$("login").addEventListener("click", login);
$("refresh").addEventListener("click", showPass);
await loadDirectory().catch(() => {});
if (client.accessToken()) await showPass(); else showSignin();
