// The merchant back-office: the merchant admin signs in, enrols and manages the scanning phones,
// manages cashiers, reads the statement by month and by day (CSV export), and the perks' rules.
import { createClient } from "./api.js";
import { toCsv } from "./csv.js";
import { formatYuan, permilleLabel } from "./money.js";

const $ = (id) => document.getElementById(id);
// Signed out with the tab, as the office is: a shop's shared computer must not keep the admin in.
const client = createClient({ storage: sessionStorage, name: "merchant", onSignedOut: () => start() });
const KINDS = { discount: "折扣", green_channel: "绿色通道", deposit_waived: "免押金", extra_quota: "额外额度", free_entry: "免费入场" };
const HOLDERS = { person: "个人", company: "企业" };
const ROLES = { cashier: "收银员", merchant_admin: "商户管理员" };
const STATES = { recorded: "有效", voided: "已撤销" };
const state = { partner: null, tiers: {}, statement: null };

const TIME = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
const CLOCK = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false });
const when = (iso) => (iso ? TIME.format(new Date(iso)).replace(/\//g, "-") : "—");

/** The role in the access token, only to choose what to show: every route checks it again. */
function role() {
  const token = client.accessToken();
  if (!token) return null;
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).role;
  } catch (_) { return null; }
}

function say(id, text, bad = false) {
  $(id).textContent = text;
  $(id).classList.toggle("bad", bad);
}

function button(text, onClick, cls = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

function cells(tr, values) {
  for (const value of values) {
    const td = tr.insertCell();
    if (value instanceof Node) td.append(value); else td.textContent = value;
  }
  return tr;
}

function actions(...nodes) {
  const div = document.createElement("div");
  div.className = "actions";
  div.append(...nodes);
  return div;
}

// -- signing in ----------------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  say("signin-error", "");
  try {
    const session = await client.json("/api/auth/staff/login", { method: "POST",
      json: { username: $("username").value.trim(), password: $("password").value } });
    client.keep(session);
    if (role() !== "merchant_admin") {
      client.forget();
      say("signin-error", "此账号是收银员账号，不能进入商户后台；请使用商户管理员账号，收银请使用扫码端。", true);
      return;
    }
    $("password").value = "";
    await start();
  } catch (error) {
    say("signin-error", error.message, true);
  }
}

async function signOut() {
  try { await client.request("/api/auth/logout", { method: "POST" }); } catch (_) { /* signed out anyway */ }
  client.forget();
  start();
}

async function start() {
  const signedIn = role() === "merchant_admin";
  $("signin").hidden = signedIn;
  $("workspace").hidden = !signedIn;
  $("logout").hidden = !signedIn;
  $("who").textContent = "";
  if (!signedIn) return;
  try {
    const [me, keys] = await Promise.all([client.json("/api/merchant/me"), client.json("/api/pass/keys")]);
    state.partner = me.partner;
    state.tiers = keys.tiers || {};
    $("who").textContent = `${me.partner.name} · 商户管理员`;
  } catch (error) {
    $("who").textContent = error.message;
  }
  showSection("devices");
}

function showSection(name) {
  for (const b of $("sections").querySelectorAll("button")) b.classList.toggle("active", b.dataset.section === name);
  for (const s of ["devices", "staff", "statement", "perks", "complaints"]) $(`section-${s}`).hidden = s !== name;
  ({ devices: loadDevices, staff: loadStaff, statement: loadStatement, perks: renderPerks,
    complaints: loadComplaints })[name]();
}

// -- devices -------------------------------------------------------------------------------------

async function newEnrolment() {
  say("devices-status", "");
  try {
    const made = await client.json("/api/merchant/enrolments", { method: "POST" });
    const svg = new DOMParser().parseFromString(made.qr_svg, "image/svg+xml").documentElement;
    $("enrolment-qr").replaceChildren(document.importNode(svg, true));
    $("enrolment-code").textContent = made.code;
    $("enrolment-expires").textContent = `${CLOCK.format(new Date(made.expires_at))} 前有效，只能绑定一台手机`;
    const link = `${location.origin}/scanner/?enrol=${encodeURIComponent(made.code)}`;
    $("enrolment-link").href = link;
    $("enrolment-link").textContent = link;
    $("enrolment").hidden = false;
  } catch (error) {
    say("devices-status", error.message, true);
  }
}

async function loadDevices() {
  const body = $("devices").tBodies[0];
  try {
    const { devices } = await client.json("/api/merchant/devices");
    body.replaceChildren();
    if (!devices.length) cells(body.insertRow(), ["还没有绑定的设备", "", "", "", ""]);
    for (const device of devices) {
      const tr = body.insertRow();
      tr.dataset.device = device.id;
      const revoked = Boolean(device.revoked_at);
      cells(tr, [device.name, when(device.enrolled_at), when(device.last_seen_at),
        revoked ? `已吊销（${when(device.revoked_at)}）` : "使用中",
        revoked ? "" : actions(button("重命名", () => renameDevice(tr, device)),
          button("吊销", () => confirmRevoke(tr, device), "danger"))]);
    }
  } catch (error) {
    say("devices-status", error.message, true);
  }
}

function renameDevice(tr, device) {
  const input = document.createElement("input");
  input.value = device.name;
  input.maxLength = 64;
  input.setAttribute("aria-label", "新名称");
  tr.cells[0].replaceChildren(input);
  tr.cells[4].replaceChildren(actions(button("保存", async () => {
    try {
      await client.json(`/api/merchant/devices/${device.id}`, { method: "PATCH", json: { name: input.value } });
      say("devices-status", `已改名为“${input.value.trim()}”`);
    } catch (error) { say("devices-status", error.message, true); }
    loadDevices();
  }, "primary"), button("取消", loadDevices)));
  input.focus();
}

function confirmRevoke(tr, device) {
  tr.cells[4].replaceChildren(actions(button("确认吊销", async () => {
    try {
      await client.json(`/api/merchant/devices/${device.id}/revoke`, { method: "POST" });
      say("devices-status", `“${device.name}”已吊销，立即无法再核销`);
    } catch (error) { say("devices-status", error.message, true); }
    loadDevices();
  }, "danger"), button("取消", loadDevices)));
}

// -- cashiers ------------------------------------------------------------------------------------

async function loadStaff() {
  const body = $("staff").tBodies[0];
  try {
    const { staff } = await client.json("/api/merchant/staff");
    body.replaceChildren();
    for (const member of staff) {
      const tr = body.insertRow();
      tr.dataset.staff = member.id;
      const cashier = member.role === "cashier";
      cells(tr, [member.username, ROLES[member.role] || member.role, member.active ? "正常" : "已停用",
        !cashier ? "" : actions(
          member.active ? button("停用", () => setActive(member, false), "danger") : button("恢复", () => setActive(member, true)),
          button("重置密码", () => resetPassword(tr, member)))]);
      tr.cells[0].classList.add("any-break");  // a user name is one long word: it may break anywhere
    }
  } catch (error) {
    say("staff-status", error.message, true);
  }
}

async function addCashier(event) {
  event.preventDefault();
  const username = $("staff-username").value.trim();
  try {
    await client.json("/api/merchant/staff", { method: "POST", json: { username, password: $("staff-password").value } });
    $("staff-form").reset();
    say("staff-status", `已添加收银员“${username}”`);
  } catch (error) { say("staff-status", error.message, true); }
  loadStaff();
}

async function setActive(member, active) {
  try {
    await client.json(`/api/merchant/staff/${member.id}`, { method: "PATCH", json: { active } });
    say("staff-status", active ? `“${member.username}”已恢复` : `“${member.username}”已停用，已立即退出所有登录`);
  } catch (error) { say("staff-status", error.message, true); }
  loadStaff();
}

function resetPassword(tr, member) {
  const input = document.createElement("input");
  input.type = "password";
  input.autocomplete = "new-password";
  input.placeholder = "新密码（至少 10 位）";
  input.setAttribute("aria-label", "新密码");
  tr.cells[3].replaceChildren(actions(input, button("确定", async () => {
    try {
      await client.json(`/api/merchant/staff/${member.id}/password`, { method: "POST", json: { password: input.value } });
      say("staff-status", `“${member.username}”的密码已重置，原登录已失效`);
      loadStaff();
    } catch (error) { say("staff-status", error.message, true); }
  }, "primary"), button("取消", loadStaff)));
  input.focus();
}

// -- statement -----------------------------------------------------------------------------------

const MONTHS_BACK = 24;

/** The month picker: this month (Beijing time) and the 23 before, in Chinese ("2026年12月"). */
function fillMonths() {
  const [year, month] = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" })
    .format(new Date()).split("-").map(Number);
  for (let i = 0; i < MONTHS_BACK; i++) {
    const y = year - Math.floor((12 - month + i) / 12);
    const m = ((month - 1 - i) % 12 + 12) % 12 + 1;
    $("month").add(new Option(`${y}年${m}月`, `${y}-${String(m).padStart(2, "0")}`));
  }
}

async function loadStatement(event) {
  if (event) event.preventDefault();
  say("statement-status", "");
  $("day-detail").hidden = true;
  try {
    const statement = await client.json(`/api/merchant/statement?month=${encodeURIComponent($("month").value)}`);
    state.statement = statement;
    const body = $("statement").tBodies[0];
    body.replaceChildren();
    // Every day of the month comes back; the ones without a redemption would only bury the others.
    for (const day of statement.days.filter((d) => d.redemptions > 0)) {
      const tr = cells(body.insertRow(), [day.day, day.redemptions, formatYuan(day.amount_fen), formatYuan(day.discount_fen)]);
      tr.className = "day";
      tr.dataset.day = day.day;
      tr.tabIndex = 0;
      tr.addEventListener("click", () => loadDay(tr, day.day));
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") loadDay(tr, day.day); });
    }
    if (!statement.total.redemptions) cells(body.insertRow(), ["本月没有核销记录", "", "", ""]);
    const t = statement.total;
    $("statement").tFoot.replaceChildren();
    cells($("statement").tFoot.insertRow(), ["合计", t.redemptions, formatYuan(t.amount_fen), formatYuan(t.discount_fen)]);
    for (const table of [$("statement")]) {
      for (const row of table.rows) for (const i of [1, 2, 3]) if (row.cells[i]) row.cells[i].classList.add("num");
    }
  } catch (error) {
    say("statement-status", error.message, true);
  }
}

async function loadDay(tr, day) {
  for (const row of $("statement").tBodies[0].rows) row.classList.toggle("selected", row === tr);
  try {
    const { redemptions } = await client.json(`/api/redemptions?day=${day}`);
    const titles = new Map((state.partner ? state.partner.perks : []).map((p) => [p.id, p.title]));
    const body = $("day-rows").tBodies[0];
    body.replaceChildren();
    for (const r of redemptions) {
      const row = cells(body.insertRow(), [CLOCK.format(new Date(r.scanned_at)), titles.get(r.perk_id) || `优惠 ${r.perk_id}`,
        HOLDERS[r.holder_kind] || "", r.holder_alias || "—",
        r.amount_fen === null ? "—" : formatYuan(r.amount_fen), r.discount_fen === null ? "—" : formatYuan(r.discount_fen),
        r.status === "voided" ? `已撤销${r.void_reason ? `：${r.void_reason}` : ""}` : STATES[r.status] || r.status]);
      row.classList.toggle("voided", r.status === "voided");
      row.cells[6].classList.add("state");
    }
    const voided = redemptions.filter((r) => r.status === "voided").length;
    $("day-title").textContent = `${day} 明细：${redemptions.length} 笔${voided ? `，其中已撤销 ${voided} 笔（不计入合计）` : ""}`;
    $("day-detail").hidden = false;
  } catch (error) {
    say("statement-status", error.message, true);
  }
}

function exportCsv() {
  const s = state.statement;
  if (!s) return;
  // Plain numbers for a spreadsheet: no thousands separators.
  const yuan = (fen) => formatYuan(fen).replace(/,/g, "");
  const rows = [["日期", "核销笔数", "消费金额（元）", "优惠金额（元）"],
    ...s.days.map((d) => [d.day, d.redemptions, yuan(d.amount_fen), yuan(d.discount_fen)]),
    ["合计", s.total.redemptions, yuan(s.total.amount_fen), yuan(s.total.discount_fen)]];
  const url = URL.createObjectURL(new Blob([toCsv(rows)], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `${state.partner ? state.partner.name : "商户"}-对账-${s.month}.csv`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// -- perks ---------------------------------------------------------------------------------------

function perkFacts(perk) {
  const tier = (code) => state.tiers[code] || code;
  const facts = [["类型", KINDS[perk.kind] || perk.kind]];
  if (perk.kind === "discount") {
    facts.push(["折扣", permilleLabel(perk.discount_permille)]);
    if (perk.max_discount_fen) facts.push(["单笔最多优惠", `${formatYuan(perk.max_discount_fen)} 元`]);
  }
  facts.push(["适用主体", perk.holder_kinds.map((k) => HOLDERS[k] || k).join("、")]);
  facts.push(["最低信用等级", perk.min_tier ? tier(perk.min_tier) : "不限"]);
  if (perk.quota_by_tier) {
    facts.push(["按等级额度", Object.entries(perk.quota_by_tier)
      .map(([code, quota]) => `${tier(code)} ${quota}${perk.quota_unit || ""}`).join("；")]);
  }
  facts.push(["每人每日", perk.limit_per_holder_per_day ? `限 ${perk.limit_per_holder_per_day} 次` : "不限次数"]);
  facts.push(["有效期", perk.active_from || perk.active_until
    ? `${perk.active_from || "即日起"} 至 ${perk.active_until || "长期"}` : "长期有效"]);
  facts.push(["节假日", perk.blackout_calendar ? "重大节假日等指定日期暂停" : "节假日照常"]);
  return facts;
}

function renderPerks() {
  const box = $("perks");
  box.replaceChildren();
  const perks = state.partner ? state.partner.perks : [];
  if (!perks.length) box.textContent = "本店暂无生效的优惠。";
  for (const perk of perks) {
    const div = document.createElement("div");
    div.className = "perk";
    const h = document.createElement("h3");
    h.textContent = perk.title;
    const dl = document.createElement("dl");
    for (const [k, v] of perkFacts(perk)) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      dl.append(dt, dd);
    }
    div.append(h, dl);
    box.append(div);
  }
}

fillMonths();
// -- complaints (those the office has accepted; never who filed them) ----------------------------

async function loadComplaints() {
  const body = $("complaints").tBodies[0];
  try {
    const { complaints } = await client.json("/api/merchant/complaints");
    body.replaceChildren(...complaints.map((c) => {
      const tr = cells(document.createElement("tr"), [c.id, c.filed_on, c.text, c.status_name, when(c.accepted_at),
        when(c.closed_at)]);
      tr.classList.toggle("open", c.status !== "closed");
      return tr;
    }));
    $("complaints").closest(".table-wrap").hidden = complaints.length === 0;  // no header over nothing
    const open = complaints.filter((c) => c.status !== "closed").length;
    say("complaints-status", complaints.length ? `共 ${complaints.length} 件，${open} 件办理中` : "暂无信用办受理的投诉");
  } catch (error) {
    say("complaints-status", error.message, true);
  }
}

$("signin-form").addEventListener("submit", signIn);
$("logout").addEventListener("click", signOut);
for (const b of $("sections").querySelectorAll("button")) b.addEventListener("click", () => showSection(b.dataset.section));
$("new-enrolment").addEventListener("click", newEnrolment);
$("staff-form").addEventListener("submit", addCashier);
$("statement-form").addEventListener("submit", loadStatement);
$("month").addEventListener("change", () => loadStatement());
$("export").addEventListener("click", exportCsv);
start();
