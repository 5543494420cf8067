// The credit office's dashboard: statistics with charts and CSV export, the credit import with progress.
import * as echarts from "/office/vendor/echarts/dist/echarts.esm.min.js";
import { createClient } from "./api.js";
import { formatYuan } from "./money.js";

const $ = (id) => document.getElementById(id);
const ROLE_NAMES = { office_admin: "管理员", office_analyst: "分析员", office_auditor: "审计员" };
// Signed out with the tab: a shared office computer must not keep a clerk signed in.
const client = createClient({ storage: sessionStorage, name: "office", onSignedOut: () => show() });
let chart = null;

/**
 * The role the signed-in clerk has, to show the right cards. Read from the access token's claims
 * because no API route answers "who am I" for office users (GET /api/auth/me is the citizen's);
 * it only decides what to show: every office route checks the role itself.
 */
function role() {
  const token = client.accessToken();
  if (!token) return null;
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return payload.role;
  } catch (_) { return null; }
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
    [row.key, row.redemptions, formatYuan(row.amount_fen), formatYuan(row.discount_fen)].forEach((value) => {
      tr.insertCell().textContent = value;
    });
  }
  const total = (field) => rows.reduce((sum, row) => sum + row[field], 0);
  $("stats-table").tFoot.innerHTML = "";
  const foot = $("stats-table").tFoot.insertRow();
  ["合计", total("redemptions"), formatYuan(total("amount_fen")), formatYuan(total("discount_fen"))].forEach((value) => {
    foot.insertCell().textContent = value;
  });
  chart = chart || echarts.init($("chart"));
  const kind = groupBy === "day" ? "line" : "bar";
  chart.setOption({
    // Drawn on the canvas: the HTML tooltip carries style attributes, which the page's policy refuses.
    tooltip: { trigger: "axis", renderMode: "richText" },
    legend: { data: ["核销次数", "优惠金额（元）"] },
    grid: { left: 48, right: 56, bottom: 64 },
    xAxis: { type: "category", data: rows.map((row) => row.key), axisLabel: { rotate: rows.length > 6 ? 30 : 0 } },
    // The money axis is in fen (integers, minInterval 1) and only labelled in yuan.
    yAxis: [{ type: "value", name: "次数", minInterval: 1 },
      { type: "value", name: "元", minInterval: 1, axisLabel: { formatter: formatYuan } }],
    series: [
      { name: "核销次数", type: kind, data: rows.map((row) => row.redemptions), itemStyle: { color: "#c7000b" } },
      { name: "优惠金额（元）", type: kind, yAxisIndex: 1, data: rows.map((row) => row.discount_fen),
        tooltip: { valueFormatter: formatYuan }, itemStyle: { color: "#f5a623" } },
    ],
  }, true);
  $("chart").dataset.rows = String(rows.length); // drawn: what a reader (or a test) can wait for
}

async function loadStats(event) {
  if (event) event.preventDefault();
  try {
    const groupBy = $("group-by").value;
    const { rows } = await client.json(`/api/office/stats?${query()}`);
    render(rows, groupBy);
    $("stats-error").textContent = "";
  } catch (error) { $("stats-error").textContent = error.message; }
}

async function exportCsv() {
  try {
    const blob = await (await client.request(`/api/office/stats.csv?${query()}`)).blob();
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
    let job = await client.json("/api/credit/imports", { method: "POST", body: form });
    $("import-progress").hidden = false;
    $("import-errors").innerHTML = "";
    while (job.status === "pending" || job.status === "running") {
      showProgress(job);
      await new Promise((resolve) => setTimeout(resolve, 500));
      job = await client.json(`/api/credit/imports/${job.id}`);
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
    const body = await client.json("/api/office/redemption-conflicts");
    const count = (body.conflicts || []).length;
    $("conflicts").textContent = count ? `${count} 条离线重复核销待复核` : "暂无待复核的冲突";
  } catch (error) { $("conflicts").textContent = error.message; }
}

async function loadScenarios() {
  const { scenarios } = await client.json("/api/office/scenarios");
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
    const partner = await client.json("/api/office/partners", { method: "POST", json: {
      name: $("partner-name").value, scenario_code: $("partner-scenario").value,
      address: $("partner-address").value || null,
    } });
    const kind = $("perk-kind").value;
    const perk = { kind, title: $("perk-title").value };
    if (kind === "discount") perk.discount_permille = Number($("perk-permille").value);
    await client.request(`/api/office/partners/${partner.id}/perks`, { method: "POST", json: perk });
    $("partner-status").textContent = `已签约：${partner.name}（编号 ${partner.id}）`;
    $("partner-form").reset();
  } catch (error) { $("partner-status").textContent = error.message; }
}

async function login() {
  try {
    const session = await client.json("/api/auth/office/login", {
      method: "POST", json: { username: $("username").value, password: $("password").value },
    });
    client.keep(session);
    $("password").value = "";
    show();
  } catch (error) { $("signin-error").textContent = error.message; }
}

async function logout() {
  try { await client.request("/api/auth/logout", { method: "POST", json: {} }); } catch (_) { /* signed out anyway */ }
  client.forget();
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
