// Review: the failed attempts (reasons in the error registry's Chinese), the offline conflicts
// (resolved with a note), and the office's voids (with a reason).
import { formatFen, formatYuan } from "../money.js";
import { $, addRow, button, client, errorMessages, fillSelect, formatTime, isWriter, latestOf, partners } from "./common.js";

let partnerNames = new Map();

async function loadPartnerNames() {
  const list = await partners();
  partnerNames = new Map(list.map((p) => [p.id, p.name]));
  return list;
}

const newestFailed = latestOf();

const partnerName = (id) => (id === null || id === undefined ? "" : partnerNames.get(id) || `编号 ${id}`);

async function loadFailed(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams();
  if ($("failed-code").value) params.set("code", $("failed-code").value);
  if ($("failed-partner").value) params.set("partner_id", $("failed-partner").value);
  if ($("failed-day").value) { params.set("from", $("failed-day").value); params.set("to", $("failed-day").value); }
  const isLatest = newestFailed();
  try {
    const [messages, { failed_attempts: rows }] = await Promise.all([
      errorMessages(), client.json(`/api/office/failed-attempts?${params}`)]);
    if (!isLatest()) return;
    const body = $("failed-table").tBodies[0];
    body.innerHTML = "";
    for (const row of rows) {
      addRow(body, [formatTime(row.at), messages[row.code] || row.code, partnerName(row.partner_id),
        row.device_id ? `设备 ${row.device_id}` : "收银台", row.offline ? "离线" : "在线",
        row.verified ? "验证通过" : "未通过验证"]);
    }
    $("failed-status").textContent = rows.length ? `共 ${rows.length} 条（最近 500 条以内）` : "没有符合条件的失败记录";
  } catch (error) { if (isLatest()) $("failed-status").textContent = error.message; }
}

async function loadFailedChoices() {
  const [messages, list] = await Promise.all([errorMessages(), loadPartnerNames()]);
  if ($("failed-code").options.length <= 1) fillSelect($("failed-code"), Object.entries(messages), { keepFirst: true });
  const partner = $("failed-partner").value;
  fillSelect($("failed-partner"), list.map((p) => [String(p.id), p.name]), { keepFirst: true });
  $("failed-partner").value = partner;
}

export async function loadFailedScreen() {
  try { await loadFailedChoices(); } catch (error) { $("failed-status").textContent = error.message; return; }
  await loadFailed();
}

function scan(at, device) { return `${formatTime(at)}（设备 ${device ?? "—"}）`; }

export async function loadConflicts() {
  try {
    await loadPartnerNames();
    const query = $("conflicts-all").checked ? "?all=true" : "";
    const { conflicts } = await client.json(`/api/office/redemption-conflicts${query}`);
    const body = $("conflict-table").tBodies[0];
    body.innerHTML = "";
    for (const conflict of conflicts) addRow(body, [conflict.id, partnerName(conflict.partner_id),
      `核销 ${conflict.redemption_id}：${scan(conflict.first_scanned_at, conflict.first_device_id)}`,
      scan(conflict.scanned_at, conflict.device_id), formatYuan(conflict.amount_fen), resolution(conflict)]);
    const open = conflicts.filter((c) => !c.resolved_at).length;
    $("conflicts").textContent = open ? `${open} 条离线重复核销待复核` : "暂无待复核的冲突";
  } catch (error) { $("conflicts").textContent = error.message; }
}

function resolution(conflict) {
  const box = document.createElement("span");
  if (conflict.resolved_at) {
    box.textContent = `已处理（${formatTime(conflict.resolved_at)}）：${conflict.resolution}`;
    return box;
  }
  if (!isWriter()) { box.textContent = "待复核"; return box; }
  const note = document.createElement("input");
  Object.assign(note, { placeholder: "处理说明", maxLength: 1000, size: 18 });
  box.append(note, button("处理", async () => {
    if (!note.value.trim()) { $("conflicts").textContent = "请填写处理说明"; return; }
    try {
      await client.json(`/api/office/redemption-conflicts/${conflict.id}/resolve`, { method: "POST",
        json: { resolution: note.value.trim() } });
      await loadConflicts();
    } catch (error) { $("conflicts").textContent = error.message; }
  }, "primary"));
  return box;
}

async function voidRedemption(event) {
  event.preventDefault();
  const id = $("void-id").value;
  try {
    const redemption = await client.json(`/api/office/redemptions/${id}/void`, { method: "POST",
      json: { reason: $("void-reason").value.trim() } });
    $("void-status").textContent = `已撤销核销 ${redemption.id}（消费 ${formatFen(redemption.amount_fen)}，` +
      `优惠 ${formatFen(redemption.discount_fen)}）：${redemption.void_reason}`;
    $("void-form").reset();
  } catch (error) { $("void-status").textContent = error.message; }
}

export function init() {
  $("failed-filters").addEventListener("submit", loadFailed);
  $("conflicts-all").addEventListener("change", () => loadConflicts());
  $("void-form").addEventListener("submit", voidRedemption);
}
