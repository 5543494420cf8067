// The credit office's dashboard: statistics with charts and CSV export, the credit import with progress.
const TOKEN_KEY = "xym.office.access";
const $ = (id) => document.getElementById(id);
const yuan = (fen) => (fen / 100).toFixed(2);
const ROLE_NAMES = { office_admin: "管理员", office_analyst: "分析员", office_auditor: "审计员" };
let chart = null;

function role() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return payload.role;
  } catch (_) { return null; }
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options = { ...options, body: JSON.stringify(options.json) };
  }
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let problem = { code: "network", message: "网络异常，请稍后再试" };
    try { problem = await response.json(); } catch (_) { /* not JSON */ }
    if (response.status === 401) { sessionStorage.removeItem(TOKEN_KEY); show(); }
    const error = new Error(problem.message);
    error.code = problem.code;
    throw error;
  }
  return response;
}

function query() {
  const params = new URLSearchParams({ group_by: $("group-by").value });
  if ($("from").value) params.set("from", $("from").value);
  if ($("to").value) params.set("to", $("to").value);
  return params.toString();
}

function render(rows, groupBy) {
  $("key-header").textContent = $("group-by").selectedOptions[0].textContent.replace("按", "");
  const body = $("stats-table").tBodies[0];
  body.innerHTML = "";
  for (const row of rows) {
    const tr = body.insertRow();
    [row.key, row.redemptions, yuan(row.amount_fen), yuan(row.discount_fen)].forEach((value) => {
      tr.insertCell().textContent = value;
    });
  }
  const total = (field) => rows.reduce((sum, row) => sum + row[field], 0);
  $("stats-table").tFoot.innerHTML = "";
  const foot = $("stats-table").tFoot.insertRow();
  ["合计", total("redemptions"), yuan(total("amount_fen")), yuan(total("discount_fen"))].forEach((value) => {
    foot.insertCell().textContent = value;
  });
  chart = chart || echarts.init($("chart"));
  const kind = groupBy === "day" ? "line" : "bar";
  chart.setOption({
    tooltip: { trigger: "axis" },
    legend: { data: ["核销次数", "优惠金额（元）"] },
    grid: { left: 48, right: 56, bottom: 64 },
    xAxis: { type: "category", data: rows.map((row) => row.key), axisLabel: { rotate: rows.length > 6 ? 30 : 0 } },
    yAxis: [{ type: "value", name: "次数" }, { type: "value", name: "元" }],
    series: [
      { name: "核销次数", type: kind, data: rows.map((row) => row.redemptions), itemStyle: { color: "#c7000b" } },
      { name: "优惠金额（元）", type: kind, yAxisIndex: 1, data: rows.map((row) => row.discount_fen / 100),
        itemStyle: { color: "#f5a623" } },
    ],
  }, true);
  window.__officeChartRendered = rows.length;
}

async function loadStats(event) {
  if (event) event.preventDefault();
  try {
    const groupBy = $("group-by").value;
    const { rows } = await (await api(`/api/office/stats?${query()}`)).json();
    render(rows, groupBy);
    $("stats-error").textContent = "";
  } catch (error) { $("stats-error").textContent = error.message; }
}

async function exportCsv() {
  try {
    const blob = await (await api(`/api/office/stats.csv?${query()}`)).blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `核销统计-${$("group-by").value}.csv`;
    link.click();
    URL.revokeObjectURL(link.href);
  } catch (error) { $("stats-error").textContent = error.message; }
}

async function startImport() {
  const file = $("import-file").files[0];
  if (!file) { $("import-status").textContent = "请先选择文件"; return; }
  const form = new FormData();
  form.append("file", file);
  try {
    let job = await (await api("/api/credit/imports", { method: "POST", body: form })).json();
    $("import-progress").hidden = false;
    $("import-errors").innerHTML = "";
    while (job.status === "pending" || job.status === "running") {
      showProgress(job);
      await new Promise((resolve) => setTimeout(resolve, 500));
      job = await (await api(`/api/credit/imports/${job.id}`)).json();
    }
    showProgress(job);
    for (const line of job.errors) {
      const item = document.createElement("li");
      item.textContent = line;
      $("import-errors").appendChild(item);
    }
  } catch (error) { $("import-status").textContent = error.message; }
}

function showProgress(job) {
  $("import-progress").value = job.percent;
  const state = { pending: "排队中", running: "导入中", done: "已完成", failed: "失败" }[job.status];
  $("import-status").textContent =
    `${state}：${job.processed_rows} / ${job.total_rows ?? "?"} 行（${job.percent}%），拒绝 ${job.rejected_rows} 行`;
}

async function loadConflicts() {
  try {
    const body = await (await api("/api/office/redemption-conflicts")).json();
    const count = (body.conflicts || []).length;
    $("conflicts").textContent = count ? `${count} 条离线重复核销待复核` : "暂无待复核的冲突";
  } catch (error) { $("conflicts").textContent = error.message; }
}

async function loadScenarios() {
  const { scenarios } = await (await api("/api/office/scenarios")).json();
  $("partner-scenario").innerHTML = "";
  for (const scenario of scenarios) {
    const option = document.createElement("option");
    option.value = scenario.code;
    option.textContent = scenario.name;
    $("partner-scenario").appendChild(option);
  }
}

async function signUpPartner(event) {
  event.preventDefault();
  try {
    const partner = await (await api("/api/office/partners", { method: "POST", json: {
      name: $("partner-name").value, scenario_code: $("partner-scenario").value,
      address: $("partner-address").value || null,
    } })).json();
    const kind = $("perk-kind").value;
    const perk = { kind, title: $("perk-title").value };
    if (kind === "discount") perk.discount_permille = Number($("perk-permille").value);
    await api(`/api/office/partners/${partner.id}/perks`, { method: "POST", json: perk });
    $("partner-status").textContent = `已签约：${partner.name}（编号 ${partner.id}）`;
    $("partner-form").reset();
  } catch (error) { $("partner-status").textContent = error.message; }
}

async function login() {
  try {
    const session = await (await api("/api/auth/office/login", {
      method: "POST", json: { username: $("username").value, password: $("password").value },
    })).json();
    sessionStorage.setItem(TOKEN_KEY, session.access_token);
    $("password").value = "";
    show();
  } catch (error) { $("signin-error").textContent = error.message; }
}

async function logout() {
  try { await api("/api/auth/logout", { method: "POST", json: {} }); } catch (_) { /* signed out anyway */ }
  sessionStorage.removeItem(TOKEN_KEY);
  show();
}

function show() {
  const current = role();
  $("signin").hidden = Boolean(current);
  $("workspace").hidden = !current;
  $("logout").hidden = !current;
  $("who").textContent = current ? ROLE_NAMES[current] || current : "";
  if (!current) return;
  $("import-card").hidden = current !== "office_admin";
  $("partner-card").hidden = current !== "office_admin";
  if (current === "office_admin") loadScenarios().catch((error) => { $("partner-status").textContent = error.message; });
  loadStats();
  loadConflicts();
}

$("login").addEventListener("click", login);
$("logout").addEventListener("click", logout);
$("filters").addEventListener("submit", loadStats);
$("export").addEventListener("click", exportCsv);
$("import-start").addEventListener("click", startImport);
$("partner-form").addEventListener("submit", signUpPartner);
window.addEventListener("resize", () => chart && chart.resize());
show();
