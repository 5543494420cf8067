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

async function api(path, options = {}) {
  const token = localStorage.getItem(TOKEN_KEY);
  const headers = { ...(options.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let problem = { code: "network", message: "网络异常，请稍后再试" };
    try { problem = await response.json(); } catch (_) { /* not JSON */ }
    const error = new Error(problem.message);
    error.code = problem.code;
    error.status = response.status;
    throw error;
  }
  return response;
}

function showSignin(message = "") {
  $("signin").hidden = false;
  $("pass").hidden = true;
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
      localStorage.removeItem(TOKEN_KEY);
      showSignin(error.message);
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
    const session = await response.json();
    localStorage.setItem(TOKEN_KEY, session.access_token);
    await showPass();
  } catch (error) { $("signin-error").textContent = error.message; }
}

takeTokenFromFragment();
$("send-code").addEventListener("click", sendCode);
$("login").addEventListener("click", login);
$("refresh").addEventListener("click", showPass);
await loadDirectory().catch(() => {});
if (localStorage.getItem(TOKEN_KEY)) await showPass(); else showSignin();
