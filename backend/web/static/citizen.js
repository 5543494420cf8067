// The citizen's page: sign in, show a fresh 信用码 that refreshes itself, list where it can be used.
const TOKEN_KEY = "xym.citizen.access";
const $ = (id) => document.getElementById(id);
let refreshTimer = null;
let countdownTimer = null;

function takeTokenFromFragment() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);  // keep the token out of the history
  }
}

const REFRESH_KEY = "xym.citizen.refresh";

function saveSession(session) {
  localStorage.setItem(TOKEN_KEY, session.access_token);
  if (session.refresh_token) localStorage.setItem(REFRESH_KEY, session.refresh_token);
}

function forgetSession() {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(REFRESH_KEY);
}

async function problemOf(response) {
  let problem = { code: "network", message: "网络异常，请稍后再试" };
  try { problem = await response.json(); } catch (_) { /* not JSON */ }
  const error = new Error(problem.message);
  error.code = problem.code;
  error.status = response.status;
  return error;
}

// One refresh at a time: a refresh token works once, and a second use would end the session.
let refreshing = null;
async function refreshSession() {
  const refreshToken = localStorage.getItem(REFRESH_KEY);
  if (!refreshToken) return false;
  refreshing = refreshing || fetch("/api/auth/refresh", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: refreshToken }),
  }).then(async (response) => {
    if (!response.ok) { forgetSession(); return false; }
    saveSession(await response.json());
    return true;
  }).catch(() => false).finally(() => { refreshing = null; });
  return refreshing;
}

async function api(path, options = {}, retried = false) {
  const token = localStorage.getItem(TOKEN_KEY);
  const headers = { ...(options.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && token && !retried && await refreshSession()) {
    return api(path, options, true);
  }
  if (!response.ok) throw await problemOf(response);
  return response;
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
    const response = await api("/api/pass/qr.svg");
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
      forgetSession();
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
    api("/api/pass/keys").then((r) => r.json()),
    api("/api/partners").then((r) => r.json()),
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
    await api("/api/auth/sms/send", { method: "POST", body: JSON.stringify({ phone: $("phone").value }) });
    $("signin-error").textContent = "验证码已发送";
  } catch (error) { $("signin-error").textContent = error.message; }
}

async function login() {
  try {
    const response = await api("/api/auth/sms/login", {
      method: "POST", body: JSON.stringify({ phone: $("phone").value, code: $("code").value }),
    });
    saveSession(await response.json());
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
    await api("/api/auth/identity", { method: "POST", body: JSON.stringify({ name, id_number: idNumber }) });
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
  try { await api("/api/auth/logout", { method: "POST" }); } catch (_) { /* signed out anyway */ }
  forgetSession();
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
if (localStorage.getItem(TOKEN_KEY)) await showPass(); else showSignin();
