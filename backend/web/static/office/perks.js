// One partner's perks and the form that edits every rule of a perk. A discount is entered and shown
// as 折 (9.8折) and stored as per-mille (980); a cap is entered in yuan and stored in fen.
import { formatYuan, permilleLabel } from "../money.js";
// The cashier's parser of typed yuan, the one rule for amounts people type (not re-exported by ../money.js).
import { parseYuan } from "/scanner/src/money.js";
import { $, addRow, button, calendarName, client, fillSelect, HOLDER_KINDS, isWriter, PERK_KINDS, rangeError,
  tiers } from "./common.js";

let partner = null;
let editing = null; // the perk being edited, or null for a new one
let reload = async () => {};

/** Per-mille from what a clerk typed as 折 ("9.8", "9.85折", "8"), or null; never through a float. */
export function parseZhe(text) {
  const match = /^(\d)(?:\.(\d{1,2}))?$/.exec(String(text).trim().replace(/折$/, ""));
  if (!match) return null;
  const permille = Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
  return permille >= 1 && permille <= 999 ? permille : null;
}

/** "09:00–11:30、14:00–17:00" for the table, "全天" without windows. */
export const windowsText = (windows) => (windows && windows.length
  ? windows.map((w) => w.replace("-", "–")).join("、") : "全天");

// Plain text in 24-hour form, not <input type=time>: that shows "下午 02:00" or "02:00 PM" by the
// computer's locale, and cannot hold 24:00 (the end of the day).
function timeInput(value, label) {
  const node = document.createElement("input");
  Object.assign(node, { value: value || "", placeholder: "09:00", maxLength: 5, size: 5, inputMode: "numeric" });
  node.setAttribute("aria-label", label);
  return node;
}

/** "09:00" from what a clerk typed ("9:00", "09：00", "0900"), or null. */
export function parseClock(text) {
  const match = /^(\d{1,2})[:：]?(\d{2})$/.exec(String(text).trim());
  if (!match) return null;
  const [hours, minutes] = [Number(match[1]), Number(match[2])];
  if (minutes > 59 || hours > 24 || (hours === 24 && minutes > 0)) return null;
  return `${String(hours).padStart(2, "0")}:${match[2]}`;
}

/** One window row of the form: start, end and a button to take it away. */
function addWindow(text = "") {
  const [start, end] = text ? text.split("-") : ["", ""];
  const row = document.createElement("span");
  row.className = "window";
  row.append(timeInput(start, "开始时间"), "至", timeInput(end, "结束时间"), button("删除", () => row.remove(), "danger"));
  $("pf-windows").appendChild(row);
}

/** The windows on the form as the API takes them ("09:00-11:30"), or a message. */
function windows() {
  const found = [];
  for (const row of $("pf-windows").querySelectorAll(".window")) {
    const [start, end] = [...row.querySelectorAll("input")].map((input) => input.value.trim());
    if (!start || !end) return { error: "请填写每个时段的开始和结束时间，或删除空的时段" };
    const [from, to] = [parseClock(start), parseClock(end)];
    if (!from || !to) return { error: `时段“${start}至${end}”请按 24 小时制填写，如 09:00 至 11:30` };
    found.push(`${from}-${to}`);
  }
  return { windows: found };
}

const zheText = (permille) => (permille ? permilleLabel(permille).replace(/折$/, "") : "");

async function tierName(code) {
  const tier = (await tiers()).find((t) => t.code === code);
  return tier ? tier.name : code;
}

export async function showPerks(current, afterChange) {
  if (!partner || partner.id !== current.id) $("perk-status").textContent = "";
  partner = current;
  reload = afterChange;
  $("perk-form").hidden = true;
  const body = $("perk-table").tBodies[0];
  body.innerHTML = "";
  for (const perk of current.perks) {
    addRow(body, [perk.title, PERK_KINDS[perk.kind], perk.discount_permille ? permilleLabel(perk.discount_permille) : "",
      await tierName(perk.min_tier), perk.holder_kinds.map((k) => HOLDER_KINDS[k]).join("、"),
      windowsText(perk.time_windows), perk.active ? "启用" : "停用", isWriter() ? button("编辑", () => editPerk(current, perk)) : ""]);
  }
}

async function calendarChoices(current) {
  const names = new Set(["major_holidays"]);
  for (const p of current.perks) if (p.blackout_calendar) names.add(p.blackout_calendar);
  return [["", "不暂停"], ...[...names].map((name) => [name, calendarName(name)])];
}

export async function editPerk(current, perk) {
  partner = current;
  editing = perk;
  const ladder = await tiers();
  fillSelect($("pf-min-tier"), ladder.map((t) => [t.code, t.name]));
  fillSelect($("pf-calendar"), await calendarChoices(current));
  $("pf-quota").innerHTML = "";
  for (const tier of ladder) {
    const label = document.createElement("label");
    label.textContent = `${tier.name} `;
    const input = document.createElement("input");
    Object.assign(input, { type: "number", min: 1, size: 4, placeholder: "不限" });
    input.dataset.tier = tier.code;
    input.value = perk && perk.quota_by_tier && perk.quota_by_tier[tier.code] ? perk.quota_by_tier[tier.code] : "";
    label.appendChild(input);
    $("pf-quota").appendChild(label);
  }
  $("perk-form-title").textContent = perk ? `编辑优惠：${perk.title}` : `为 ${current.name} 新增优惠`;
  $("pf-kind").value = perk ? perk.kind : "discount";
  $("pf-title").value = perk ? perk.title : "";
  $("pf-min-tier").value = perk ? perk.min_tier : (ladder.find((t) => t.level === 1) || ladder[0]).code;
  $("pf-person").checked = !perk || perk.holder_kinds.includes("person");
  $("pf-company").checked = !perk || perk.holder_kinds.includes("company");
  $("pf-zhe").value = perk ? zheText(perk.discount_permille) : "9.8";
  $("pf-cap").value = perk && perk.max_discount_fen ? formatYuan(perk.max_discount_fen) : "";
  $("pf-daily").value = perk && perk.limit_per_holder_per_day ? perk.limit_per_holder_per_day : "";
  $("pf-quota-unit").value = perk && perk.quota_unit ? perk.quota_unit : "";
  $("pf-from").value = perk && perk.active_from ? perk.active_from : "";
  $("pf-until").value = perk && perk.active_until ? perk.active_until : "";
  $("pf-calendar").value = perk && perk.blackout_calendar ? perk.blackout_calendar : "";
  $("pf-active").checked = !perk || perk.active;
  $("pf-windows").innerHTML = "";
  for (const text of (perk && perk.time_windows) || []) addWindow(text);
  $("perk-status").textContent = "";
  showKind();
  $("perk-form").hidden = false;
  $("pf-title").focus();
}

function showKind() {
  for (const node of document.querySelectorAll(".discount-only")) node.hidden = $("pf-kind").value !== "discount";
}

/** The perk's rules as the API takes them, or a message saying what to correct. */
function rules() {
  const kind = $("pf-kind").value;
  const holderKinds = ["person", "company"].filter((k) => $(`pf-${k}`).checked);
  if (!holderKinds.length) return { error: "请至少选择一类适用主体" };
  const dates = rangeError($("pf-from").value, $("pf-until").value);
  if (dates) return { error: dates };
  const quota = {};
  for (const input of $("pf-quota").querySelectorAll("input")) {
    if (!input.value) continue;
    const value = Number(input.value);
    if (!Number.isInteger(value) || value < 1) return { error: "额度须为正整数" };
    quota[input.dataset.tier] = value;
  }
  const hours = windows();
  if (hours.error) return { error: hours.error };
  const daily = $("pf-daily").value ? Number($("pf-daily").value) : null;
  if (daily !== null && (!Number.isInteger(daily) || daily < 1)) return { error: "每日次数上限须为正整数" };
  const body = {
    kind, title: $("pf-title").value, min_tier: $("pf-min-tier").value, holder_kinds: holderKinds,
    discount_permille: null, max_discount_fen: null, limit_per_holder_per_day: daily,
    quota_by_tier: Object.keys(quota).length ? quota : null, quota_unit: $("pf-quota-unit").value || null,
    active_from: $("pf-from").value || null, active_until: $("pf-until").value || null,
    blackout_calendar: $("pf-calendar").value || null, active: $("pf-active").checked,
    time_windows: hours.windows,
  };
  if (kind === "discount") {
    body.discount_permille = parseZhe($("pf-zhe").value);
    if (body.discount_permille === null) return { error: "折扣请填 0.01 到 9.99 之间的折数，如 9.8（即九八折）" };
    if ($("pf-cap").value) {
      body.max_discount_fen = parseYuan($("pf-cap").value);
      if (body.max_discount_fen === null) return { error: "优惠上限请填金额（元），如 20 或 20.50" };
    }
  }
  return { body };
}

async function save(event) {
  event.preventDefault();
  const { body, error } = rules();
  if (error) { $("perk-status").textContent = error; return; }
  try {
    const saved = editing
      ? await client.json(`/api/office/perks/${editing.id}`, { method: "PATCH", json: body })
      : await client.json(`/api/office/partners/${partner.id}/perks`, { method: "POST", json: body });
    await reload();
    $("perk-status").textContent = `已保存：${saved.title}` +
      (saved.discount_permille ? `（${permilleLabel(saved.discount_permille)}）` : "") +
      (saved.time_windows.length ? `，可用时段 ${windowsText(saved.time_windows)}` : "") + "，下一次核销即按新规则执行";
  } catch (problem) { $("perk-status").textContent = problem.message; }
}

export function init() {
  $("pf-kind").addEventListener("change", showKind);
  $("pf-window-add").addEventListener("click", () => addWindow());
  $("perk-form").addEventListener("submit", save);
  $("perk-cancel").addEventListener("click", () => {
    $("perk-form").hidden = true;
    $("perk-status").textContent = "";
  });
}
