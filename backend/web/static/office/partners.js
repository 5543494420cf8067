// Partners: the list, one partner's details (name, scenario, area, address, hours), its exit with a
// reason and date, its perks and staff accounts, and signing up a new partner in one flow (the
// partner, its first perk, its merchant admin and its first device code, so it can scan the same
// day). Every change goes through the office API, which audits it.
import { permilleLabel } from "../money.js";
import { $, addRow, areas, button, client, fillSelect, formatTime, isWriter, partners, PERK_KINDS,
  STAFF_ROLES } from "./common.js";
import { editPerk, parseZhe, showPerks } from "./perks.js";

let selected = null; // the partner whose details, perks and staff are shown
let scenarios = [];

function perkSummary(perk) {
  const kind = PERK_KINDS[perk.kind] || perk.kind;
  return perk.kind === "discount" && perk.discount_permille ? `${kind} ${permilleLabel(perk.discount_permille)}` : kind;
}

const TODAY = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" });
const today = () => TODAY.format(new Date()); // YYYY-MM-DD in Beijing

function status(partner) {
  if (partner.active) return "合作中";
  return partner.left_on ? `已退出（${partner.left_on}，${partner.exit_reason}）` : "已暂停合作";
}

export async function loadPartners() {
  try {
    const [list, areaList] = await Promise.all([partners(), areas()]);
    const areaName = Object.fromEntries(areaList.map((a) => [a.id, a.name]));
    const body = $("partner-table").tBodies[0];
    body.innerHTML = "";
    for (const partner of list) {
      const actions = document.createElement("span");
      actions.appendChild(button("管理", () => select(partner)));
      if (isWriter()) {
        actions.appendChild(partner.active
          ? button("退出合作", () => { select(partner); $("exit-reason").focus(); }, "danger")
          : button("恢复合作", () => restore(partner)));
      }
      const where = [partner.address, partner.hours ? `营业时间 ${partner.hours}` : ""].filter(Boolean).join("；");
      const row = addRow(body, [partner.id, partner.name, partner.scenario, areaName[partner.area_id] || "",
        where, partner.perks.map(perkSummary).join("、"), status(partner), actions]);
      row.dataset.partner = String(partner.id);
      if (!partner.active) row.classList.add("inactive");
      if (selected && selected.id === partner.id) select(partner);
    }
    $("partners-status").textContent = "";
  } catch (error) { $("partners-status").textContent = error.message; }
}

async function restore(partner) {
  try {
    await client.json(`/api/office/partners/${partner.id}`, { method: "PATCH", json: { active: true } });
    $("partners-status").textContent = `${partner.name}：已恢复合作，重新出现在公示列表中`;
    await loadPartners();
  } catch (error) { $("partners-status").textContent = error.message; }
}

async function areaChoices(none) {
  return [["", none], ...(await areas()).map((a) => [String(a.id), a.name])];
}

async function select(partner) {
  if (!selected || selected.id !== partner.id) {
    for (const id of ["enrolment-status", "partner-edit-status", "partner-exit-status"]) $(id).textContent = "";
  }
  selected = partner;
  $("partner-detail").hidden = false;
  $("detail-name").textContent = `${partner.name}（编号 ${partner.id}）· ${status(partner)}`;
  $("staff-status").textContent = "";
  $("pe-name").value = partner.name;
  fillSelect($("pe-scenario"), scenarios.map((s) => [s.code, s.name]));
  $("pe-scenario").value = partner.scenario_code;
  fillSelect($("pe-area"), await areaChoices("不属于任何区域"));
  $("pe-area").value = partner.area_id ? String(partner.area_id) : "";
  $("pe-address").value = partner.address || "";
  $("pe-hours").value = partner.hours || "";
  $("partner-exit").hidden = !partner.active;
  if (!$("exit-date").value) $("exit-date").value = today();
  showPerks(partner, loadPartners);
}

async function saveDetails(event) {
  event.preventDefault();
  if (!selected) return;
  try {
    const saved = await client.json(`/api/office/partners/${selected.id}`, { method: "PATCH", json: {
      name: $("pe-name").value.trim(), scenario_code: $("pe-scenario").value,
      area_id: $("pe-area").value ? Number($("pe-area").value) : null,
      address: $("pe-address").value.trim() || null, hours: $("pe-hours").value.trim() || null } });
    await loadPartners();
    $("partner-edit-status").textContent = `已保存：${saved.name}`;
  } catch (error) { $("partner-edit-status").textContent = error.message; }
}

async function exitPartner(event) {
  event.preventDefault();
  if (!selected) return;
  try {
    const left = await client.json(`/api/office/partners/${selected.id}/exit`, { method: "POST", json: {
      reason: $("exit-reason").value.trim(), left_on: $("exit-date").value } });
    $("partner-exit").reset();
    await loadPartners();
    $("partner-exit-status").textContent =
      `${left.name} 已于 ${left.left_on} 退出合作，已从公示列表移入“已退出的合作单位”`;
  } catch (error) { $("partner-exit-status").textContent = error.message; }
}

async function createStaff(event) {
  event.preventDefault();
  if (!selected) return;
  const role = $("staff-role").value;
  try {
    const member = await client.json(`/api/office/partners/${selected.id}/staff`, { method: "POST", json: {
      username: $("staff-username").value, password: $("staff-password").value, role } });
    $("staff-status").textContent = `已为 ${selected.name} 开设${STAFF_ROLES[member.role]}账号：${member.username}`;
    $("staff-form").reset();
  } catch (error) { $("staff-status").textContent = error.message; }
}

const codeLine = (name, created) => `${name} 的设备绑定码：${created.code}（${formatTime(created.expires_at)} 前有效）`;

async function createEnrolment() {
  if (!selected) return;
  try {
    const created = await client.json(`/api/office/partners/${selected.id}/enrolments`, { method: "POST", json: {} });
    $("enrolment-status").textContent = codeLine(selected.name, created);
  } catch (error) { $("enrolment-status").textContent = error.message; }
}

async function loadChoices() {
  scenarios = (await client.json("/api/office/scenarios")).scenarios;
  fillSelect($("partner-scenario"), scenarios.map((s) => [s.code, s.name]));
  fillSelect($("partner-area"), await areaChoices("不属于任何区域"));
}

/**
 * Sign up a partner in one flow: the partner, its first perk, its merchant admin (when a username
 * is given) and its first device code. Each step is its own audited call; if one fails, what was
 * done stays done and the message says where to finish (the partner's 管理 panel).
 */
async function signUpPartner(event) {
  event.preventDefault();
  const say = (text) => { $("partner-status").textContent = text; };
  $("partner-code").textContent = "";
  const kind = $("perk-kind").value;
  const perk = { kind, title: $("perk-title").value };
  if (kind === "discount") {
    perk.discount_permille = parseZhe($("perk-zhe").value);
    if (perk.discount_permille === null) { say("折扣请填 0.01 到 9.99 之间的折数，如 9.8"); return; }
  }
  const admin = $("partner-admin").value.trim();
  const password = $("partner-admin-password").value;
  if (admin && password.length < 10) { say("商户管理员的初始密码至少 10 位"); return; }
  let partner;
  try {
    partner = await client.json("/api/office/partners", { method: "POST", json: {
      name: $("partner-name").value.trim(), scenario_code: $("partner-scenario").value,
      area_id: $("partner-area").value ? Number($("partner-area").value) : null,
      address: $("partner-address").value.trim() || null, hours: $("partner-hours").value.trim() || null,
    } });
  } catch (error) { say(error.message); return; }
  const done = [`已签约：${partner.name}（编号 ${partner.id}）`];
  selected = { id: partner.id };
  try {
    await client.request(`/api/office/partners/${partner.id}/perks`, { method: "POST", json: perk });
    done.push(`优惠“${perk.title}”`);
    if (admin) {
      await client.json(`/api/office/partners/${partner.id}/staff`, { method: "POST", json: {
        username: admin, password, role: "merchant_admin" } });
      done.push(`商户管理员账号 ${admin}`);
    }
    const created = await client.json(`/api/office/partners/${partner.id}/enrolments`, { method: "POST", json: {} });
    $("partner-form").reset();
    $("perk-title").value = "九八折优惠";
    $("perk-zhe").value = "9.8";
    say(`${done.join("，")}。请把下面的绑定码告诉商户：在扫码手机上打开“信用码核销”，于“绑定收银设备”处输入即可开始核销（10 分钟内有效；过期后商户管理员可在商户后台自行生成）。`);
    $("partner-code").textContent = codeLine(partner.name, created);
  } catch (error) {
    say(`${done.join("，")}；但未完成：${error.message}。请在上方列表中点“管理”继续。`);
  }
  await loadPartners();
}

export async function load() {
  await loadChoices().catch((error) => { $("partner-status").textContent = error.message; });
  await loadPartners();
}

export function init() {
  $("staff-form").addEventListener("submit", createStaff);
  $("partner-form").addEventListener("submit", signUpPartner);
  $("partner-edit").addEventListener("submit", saveDetails);
  $("partner-exit").addEventListener("submit", exitPartner);
  $("enrolment-new").addEventListener("click", createEnrolment);
  $("perk-new").addEventListener("click", () => selected && editPerk(selected, null));
}
