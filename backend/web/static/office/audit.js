// The audit log for the admin and the auditor: filtered by actor, action and dates, newest first,
// a page at a time. Actions and actors are named in Chinese; the detail keeps the stored values.
import { $, addRow, CALENDAR_DAY_KINDS, client, download, fillSelect, formatTime, latestOf, rangeError } from "./common.js";

// Every action the server records (tests/office/test_audit_labels.py keeps this in step with backend/).
const ACTIONS = {
  "office.sign_in": "信用办登录", "office_user.created": "开设信用办账号",
  "partner.create": "签约合作单位", "partner.update": "修改合作单位", "partner.exit": "合作单位退出",
  "scenario.create": "新增场景", "perk.create": "新增优惠", "perk.update": "修改优惠规则",
  "calendar.add_day": "节假日日历增加日期", "calendar.remove_day": "节假日日历删除一天",
  "calendar.confirm_year": "确认节假日日历依据",
  "redemption.void": "撤销核销", "redemption_conflict.resolve": "处理离线冲突",
  "staff.created": "开设员工账号", "staff.enabled": "启用员工账号", "staff.disabled": "停用员工账号",
  "staff.password_reset": "重置员工密码", "device.enrolment_created": "生成设备登记码", "device.enrolled": "登记扫码设备",
  "device.renamed": "重命名扫码设备", "device.revoked": "停用扫码设备",
  "representative.authorised": "授权企业经办人", "representative.revoked": "撤销企业经办人",
  "credit.import": "导入信用数据", "credit.recompute_tiers": "重算信用等级", "city.load": "载入城市参考数据",
  "ladder.update": "修改等级阶梯",
  "objection.file": "提交异议", "objection.photo": "上传异议照片", "objection.photo_view": "查看异议照片",
  "objection.accept": "受理异议", "objection.assign": "指派异议经办人", "objection.answer": "答复异议",
  "objection.sms": "发送异议进度短信", "objection.due_moved": "答复期限随日历调整",
  "privacy_consent": "同意个人信息保护告知书", "account_deleted": "注销账号",
  "federation.add": "新增互认城市", "federation.sync": "同步互认名单", "federation.expired": "互认名单过期",
  "federation.refused": "拒绝互认名单", "federation.tier_map": "设置互认等级对应",
  "pass_keys.trust": "信任外地签发密钥", "pass_keys.tier_map": "设置外地等级对应", "pass_keys.levels": "设置外地公布等级",
};
const ACTOR_KINDS = { office: "信用办账号", staff: "商户员工", device: "扫码设备", citizen: "市民" };
const SYSTEM_ACTORS = { cli: "命令行", demo: "演示数据", federation: "互认同步" };
const TARGET_KINDS = { partner: "合作单位", perk: "优惠", scenario: "场景", calendar: "节假日日历", redemption: "核销",
  redemption_conflict: "离线冲突", office_user: "信用办账号", staff: "员工", device: "设备", objection: "异议",
  representative: "企业经办人", import: "导入任务", import_job: "导入任务", city: "城市", issuer: "签发机构",
  partner_city: "互认城市", citizen: "市民" };

export function actorName(actor) {
  if (SYSTEM_ACTORS[actor]) return SYSTEM_ACTORS[actor];
  const [kind, id] = actor.split(":");
  return ACTOR_KINDS[kind] ? `${ACTOR_KINDS[kind]} ${id}` : actor;
}

function targetName(target) {
  if (!target) return "";
  const [kind, ...rest] = target.split(":");
  return TARGET_KINDS[kind] ? `${TARGET_KINDS[kind]} ${rest.join(":")}` : target;
}

const FIELDS = { name: "名称", scenario: "场景", scenario_code: "场景", address: "地址", active: "启用", before: "修改前",
  after: "修改后", day: "日期", reason: "原因", resolution: "处理说明", partner_id: "合作单位", kind: "类型",
  title: "优惠名称", discount_permille: "折扣（‰）", max_discount_fen: "优惠上限（分）", holder_kinds: "适用主体",
  min_tier: "最低等级", quota_by_tier: "额度", quota_unit: "额度单位", active_from: "生效日期",
  active_until: "截止日期", blackout_calendar: "暂停日历", limit_per_holder_per_day: "每日次数上限", code: "代码",
  username: "用户名", role: "角色", text: "内容", source: "来源文件", changes: "变更", perk_id: "优惠编号",
  amount_fen: "消费金额（分）", discount_fen: "优惠金额（分）", by: "撤销方", photo_id: "照片编号",
  content_type: "文件类型", bytes: "大小（字节）", redemption_id: "核销编号", assignee_id: "经办人编号",
  late: "超期答复", status: "状态", sent: "已发出", version: "版本", rows: "行数", changed: "变化数",
  account_id: "市民账号", company_subject_id: "企业主体", enrolment_id: "登记码编号", issuer: "签发机构",
  url: "地址", kid: "密钥编号", pinned_key: "固定公钥", issued_at: "签发时间", left_on: "退出日期",
  area_id: "区域", hours: "营业时间", year: "年份", basis: "依据", days: "天数" };

// Stored values that are words, not data: named for people too.
const VALUES = {
  by: { office: "信用办", merchant: "商户" },
  kind: { credit: "信用异议", redemption: "核销异议", complaint: "投诉", ...CALENDAR_DAY_KINDS },
  status: { submitted: "已提交", accepted: "已受理", in_progress: "处理中", closed: "已办结" },
  role: { office_admin: "信用办管理员", office_analyst: "信用办分析员", office_auditor: "信用办审计员",
    merchant_admin: "商户管理员", cashier: "收银员" },
};

/** The stored detail with its field names in Chinese; the values are kept as stored. */
function detailText(value) {
  if (value === null || value === undefined) return "无";
  if (typeof value === "boolean") return value ? "是" : "否";
  if (Array.isArray(value)) return value.map(detailText).join("、");
  if (typeof value !== "object") return String(value);
  const parts = Object.entries(value).map(([key, item]) =>
    `${FIELDS[key] || key}：${VALUES[key]?.[item] ?? detailText(item)}`);
  return parts.length ? `｛${parts.join("；")}｝` : "";
}

let next = null;
const newestAudit = latestOf();
const actorsSeen = new Set();

function query() {
  const params = new URLSearchParams();
  for (const [field, id] of [["actor", "audit-actor"], ["action", "audit-action"], ["from", "audit-from"],
    ["to", "audit-to"]]) {
    if ($(id).value) params.set(field, $(id).value);
  }
  return params;
}

async function loadAudit(event, { more = false } = {}) {
  if (event) event.preventDefault();
  const message = rangeError($("audit-from").value, $("audit-to").value);
  $("audit-status").textContent = message;
  if (message) return;
  const params = query();
  if (more && next) params.set("before", next);
  const isLatest = newestAudit();
  try {
    const { entries, next: after } = await client.json(`/api/office/audit?${params}`);
    if (!isLatest()) return;
    const body = $("audit-table").tBodies[0];
    if (!more) body.innerHTML = "";
    for (const entry of entries) {
      addRow(body, [formatTime(entry.at), actorName(entry.actor), ACTIONS[entry.action] || entry.action,
        targetName(entry.target), detailText(entry.detail)]).classList.add("audit-row");
      actorsSeen.add(entry.actor);
    }
    next = after;
    $("audit-more").hidden = !after;
    if (!more && !entries.length) $("audit-status").textContent = "没有符合条件的记录";
    refreshActors();
  } catch (error) { if (isLatest()) $("audit-status").textContent = error.message; }
}

/** The actors met so far, named in Chinese (the log is filtered by the stored actor). */
function refreshActors() {
  const current = $("audit-actor").value;
  fillSelect($("audit-actor"), [...actorsSeen].sort().map((actor) => [actor, actorName(actor)]), { keepFirst: true });
  $("audit-actor").value = current;
}

/** Every entry the filters select (not only the pages shown), as the server writes it: a CSV safe to open. */
async function exportAudit() {
  const message = rangeError($("audit-from").value, $("audit-to").value);
  $("audit-status").textContent = message;
  if (message) return;
  try {
    await download(`/api/office/audit.csv?${query()}`, "审计日志.csv");
  } catch (error) { $("audit-status").textContent = error.message; }
}

/** The cases of a date range, as a table for people or one JSON object a line for systems. */
async function exportCases(event) {
  event.preventDefault();
  const [from, to, format] = [$("cases-from").value, $("cases-to").value, $("cases-format").value];
  const message = rangeError(from, to);
  $("cases-status").textContent = message;
  if (message) return;
  try {
    const params = new URLSearchParams({ from, to, format });
    await download(`/api/office/cases/export?${params}`, `激励案例-${from}-${to}.${format}`);
  } catch (error) { $("cases-status").textContent = error.message; }
}

export function load() { return loadAudit(); }

export function init() {
  fillSelect($("audit-action"), Object.entries(ACTIONS), { keepFirst: true });
  $("audit-filters").addEventListener("submit", (event) => loadAudit(event));
  $("audit-more").addEventListener("click", () => loadAudit(null, { more: true }));
  $("audit-export").addEventListener("click", exportAudit);
  $("cases-export").addEventListener("submit", exportCases);
}
