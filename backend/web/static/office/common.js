// What every screen of the office dashboard shares: the API client, the clerk's role, small DOM
// helpers, and the lookups the screens read to speak Chinese (error messages, tiers, partners).
import { createClient } from "../api.js";

export const $ = (id) => document.getElementById(id);

let signedOut = () => {};
// Signed out with the tab: a shared office computer must not keep a clerk signed in.
export const client = createClient({ storage: sessionStorage, name: "office", onSignedOut: () => signedOut() });

/** What to do when the server ends the session (the entry module shows the sign-in form). */
export function onSignedOut(callback) { signedOut = callback; }

/**
 * The signed-in clerk's role, to show the right screens. Read from the access token's claims
 * because no API route answers "who am I" for office users; it only decides what to show: every
 * office route checks the role itself.
 */
export function role() {
  const token = client.accessToken();
  if (!token) return null;
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).role;
  } catch (_) { return null; }
}

export const isWriter = () => role() === "office_admin";

/** The message for a start date after an end date (both "YYYY-MM-DD" or empty), or "". */
export function rangeError(from, to) {
  return from && to && from > to ? "开始日期不能晚于结束日期，请重新选择" : "";
}

const TIME = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });

/** "2026/12/01 13:20" in Beijing time from an ISO instant. */
export function formatTime(iso) { return iso ? TIME.format(new Date(iso)) : ""; }

/** A new row of `tbody` with one cell per value (text, or a Node put in as it is). */
export function addRow(tbody, values) {
  const tr = tbody.insertRow();
  for (const value of values) {
    const td = tr.insertCell();
    if (value instanceof Node) td.appendChild(value);
    else td.textContent = value ?? "";
  }
  return tr;
}

/** For a screen whose list reloads on every filter: `const newest = latestOf()` once, `const isLatest = newest()` when a load starts,
 * and draw its answer only `if (isLatest())`. Answers can cross (the screen's first, unfiltered load
 * and a filter submitted at once), and an older one must not replace a newer one. */
export function latestOf() {
  let count = 0;
  return () => { const mine = ++count; return () => mine === count; };
}

export function button(text, onClick, className = "") {
  const node = document.createElement("button");
  node.type = "button";
  node.textContent = text;
  if (className) node.className = className;
  node.addEventListener("click", onClick);
  return node;
}

/** Replace the options of `select` with [value, label] pairs, keeping the leading "全部" if asked. */
export function fillSelect(select, pairs, { keepFirst = false } = {}) {
  const kept = keepFirst ? select.options[0] : null;
  select.innerHTML = "";
  if (kept) select.appendChild(kept);
  for (const [value, label] of pairs) select.appendChild(new Option(label, value));
}

/** Save what an export route answers as a file named `name` (the download keeps the clerk's token). */
export async function download(path, name) {
  const blob = await (await client.request(path)).blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  URL.revokeObjectURL(link.href);
}

const cached = {};
function once(key, load) {
  cached[key] = cached[key] || load().catch((error) => { delete cached[key]; throw error; });
  return cached[key];
}

/** {code: 中文说明} of the error registry, served by the API (never copied here). */
export const errorMessages = () => once("messages", async () =>
  (await client.json("/api/office/error-messages")).messages);

/** The tier ladder, low to high: [{level, code, name}]. */
export const tiers = () => once("tiers", async () => (await client.json("/api/office/tiers")).tiers);

/** After the tier names change on the ladder screen: read them again when next asked. */
export function forgetTiers() { delete cached.tiers; }

/** The areas (街道/社区) partners are in: [{id, code, name, parent_code}]. */
export const areas = () => once("areas", async () => (await client.json("/api/office/areas")).areas);

/** Every partner (inactive ones too), fresh from the server. */
export async function partners() { return (await client.json("/api/office/partners")).partners; }

export const PERK_KINDS = { discount: "折扣", green_channel: "绿色通道", deposit_waived: "免押金", extra_quota: "增加额度",
  free_entry: "免费入场" };
export const HOLDER_KINDS = { person: "个人", company: "企业" };
export const STAFF_ROLES = { merchant_admin: "商户管理员", cashier: "收银员" };
// A calendar's stored code, named for people; a calendar the office adds later shows its code.
export const CALENDAR_NAMES = { major_holidays: "重大节假日" };
/** The kinds of a holiday calendar's days: a day off, or a weekend day worked in exchange. */
export const CALENDAR_DAY_KINDS = { holiday: "放假", workday: "调休上班" };
export const calendarName = (code) => CALENDAR_NAMES[code] || code;

/** What a clerk must know of the years the server says cannot be relied on yet (60 days ahead):
 * "2027 年的放假安排为预排，尚未按国务院办公厅的通知核对" ...; "" when every year is sound. */
export function calendarAttention(attention) {
  return attention.map(({ year, state }) => (state === "missing"
    ? `${year} 年的放假安排尚未录入：落在该年的答复期限暂只扣除周末`
    : `${year} 年的放假安排为预排，尚未按国务院办公厅的通知核对`)).join("；");
}
