// Partners: the list with taking a partner off and on, one partner's perks and staff accounts, and
// signing up a new partner. Every change goes through the office API, which audits it.
import { permilleLabel } from "../money.js";
import { $, addRow, button, client, formatTime, isWriter, partners, PERK_KINDS, STAFF_ROLES } from "./common.js";
import { editPerk, parseZhe, showPerks } from "./perks.js";

let selected = null; // the partner whose perks and staff are shown

function perkSummary(perk) {
  const kind = PERK_KINDS[perk.kind] || perk.kind;
  return perk.kind === "discount" && perk.discount_permille ? `${kind} ${permilleLabel(perk.discount_permille)}` : kind;
}

export async function loadPartners() {
  try {
    const list = await partners();
    const body = $("partner-table").tBodies[0];
    body.innerHTML = "";
    for (const partner of list) {
      const actions = document.createElement("span");
      actions.appendChild(button("管理", () => select(partner)));
      if (isWriter()) {
        actions.appendChild(button(partner.active ? "停止合作" : "恢复合作", () => setActive(partner, !partner.active),
          partner.active ? "danger" : ""));
      }
      const row = addRow(body, [partner.id, partner.name, partner.scenario, partner.address,
        partner.perks.map(perkSummary).join("、"), partner.active ? "合作中" : "已停止合作", actions]);
      row.dataset.partner = String(partner.id);
      if (!partner.active) row.classList.add("inactive");
      if (selected && selected.id === partner.id) select(partner);
    }
    $("partners-status").textContent = "";
  } catch (error) { $("partners-status").textContent = error.message; }
}

async function setActive(partner, active) {
  try {
    await client.json(`/api/office/partners/${partner.id}`, { method: "PATCH", json: { active } });
    $("partners-status").textContent = `${partner.name}：${active ? "已恢复合作" : "已停止合作，公示列表不再显示"}`;
    await loadPartners();
  } catch (error) { $("partners-status").textContent = error.message; }
}

function select(partner) {
  if (!selected || selected.id !== partner.id) $("enrolment-status").textContent = "";
  selected = partner;
  $("partner-detail").hidden = false;
  $("detail-name").textContent = `${partner.name}（编号 ${partner.id}）${partner.active ? "" : " · 已停止合作"}`;
  $("staff-status").textContent = "";
  showPerks(partner, loadPartners);
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

async function createEnrolment() {
  if (!selected) return;
  try {
    const created = await client.json(`/api/office/partners/${selected.id}/enrolments`, { method: "POST", json: {} });
    $("enrolment-status").textContent = `${selected.name} 的设备绑定码：${created.code}（${formatTime(created.expires_at)} 前有效）`;
  } catch (error) { $("enrolment-status").textContent = error.message; }
}

async function loadScenarioChoices() {
  const { scenarios } = await client.json("/api/office/scenarios");
  $("partner-scenario").innerHTML = "";
  for (const scenario of scenarios) $("partner-scenario").appendChild(new Option(scenario.name, scenario.code));
}

async function signUpPartner(event) {
  event.preventDefault();
  const kind = $("perk-kind").value;
  const perk = { kind, title: $("perk-title").value };
  if (kind === "discount") {
    perk.discount_permille = parseZhe($("perk-zhe").value);
    if (perk.discount_permille === null) { $("partner-status").textContent = "折扣请填 0.01 到 9.99 之间的折数，如 9.8"; return; }
  }
  try {
    const partner = await client.json("/api/office/partners", { method: "POST", json: {
      name: $("partner-name").value, scenario_code: $("partner-scenario").value,
      address: $("partner-address").value || null,
    } });
    await client.request(`/api/office/partners/${partner.id}/perks`, { method: "POST", json: perk });
    $("partner-status").textContent = `已签约：${partner.name}（编号 ${partner.id}），请在上方为其开设员工账号`;
    $("partner-form").reset();
    selected = { id: partner.id };
    await loadPartners();
  } catch (error) { $("partner-status").textContent = error.message; }
}

export async function load() {
  if (isWriter()) loadScenarioChoices().catch((error) => { $("partner-status").textContent = error.message; });
  await loadPartners();
}

export function init() {
  $("staff-form").addEventListener("submit", createStaff);
  $("partner-form").addEventListener("submit", signUpPartner);
  $("enrolment-new").addEventListener("click", createEnrolment);
  $("perk-new").addEventListener("click", () => selected && editPerk(selected, null));
}
