// 异议与投诉: file an objection (about my tier, one redemption) or a complaint, and see the answers.
import { $, client, dateOnly, dateTime, element } from "./state.js";
import { registerScreen, showView } from "./screens.js";
import { loadHistory, records } from "./history.js";
import { say } from "../prefs.js";

const OBJECTION_KINDS = { credit: "信用等级异议", redemption: "使用记录异议", complaint: "投诉" };
const OBJECTION_STATUS = { open: "已提交，待答复", answered: "已办结" };

/** Open the form for an objection to redemption `redemptionId`. */
export function objectTo(redemptionId) {
  showView("objections");
  $("objection-kind").value = "redemption";
  showRedemptionChoice(redemptionId);
}

async function showRedemptionChoice(selected) {
  const redemption = $("objection-kind").value === "redemption";
  $("objection-redemption-row").hidden = !redemption;
  if (!redemption) return;
  if (!records.items.size) await loadHistory({ reset: true });
  const options = [...records.items.values()].map((item) => {
    const option = element("option", "", `${dateTime.format(new Date(item.at))} ${item.partner} ${item.perk}`);
    option.value = String(item.id);
    return option;
  });
  if (!options.length) options.push(Object.assign(element("option", "", "暂无使用记录"), { value: "" }));
  $("objection-redemption").replaceChildren(...options);
  if (selected) $("objection-redemption").value = String(selected);
}

async function fileObjection() {
  say($("objection-message"), "");
  const kind = $("objection-kind").value;
  const body = { kind, text: $("objection-text").value };
  if (kind === "redemption") {
    const chosen = Number($("objection-redemption").value);
    if (!chosen) { say($("objection-message"), "请选择要提出异议的使用记录", { error: true }); return; }
    body.redemption_id = chosen;
  }
  $("objection-submit").disabled = true;
  try {
    const filed = await client.json("/api/objections", { method: "POST", json: body });
    $("objection-text").value = "";
    say($("objection-message"), `已提交（编号 ${filed.id}），信用办将在 ${dateOnly.format(new Date(filed.due_at))} 前答复。`);
    await loadObjections();
  } catch (error) {
    say($("objection-message"), error.message, { error: true });
  } finally {
    $("objection-submit").disabled = false;
  }
}

function objectionItem(objection) {
  const node = element("li");
  const head = element("div", "row");
  head.append(element("strong", "", `${OBJECTION_KINDS[objection.kind] || "异议"}（编号 ${objection.id}）`),
    element("span", `tag ${objection.status === "answered" ? "good" : ""}`, OBJECTION_STATUS[objection.status] || "处理中"));
  node.append(head, element("p", "", objection.text));
  const dates = `提交于 ${dateTime.format(new Date(objection.created_at))}，答复期限 ${dateOnly.format(new Date(objection.due_at))}`;
  node.append(element("div", "when", dates));
  if (objection.overdue) node.append(element("div", "tag bad", "已超过答复期限，可向信用办催办"));
  if (objection.answer) {
    const answer = element("div", "answer");
    answer.append(element("strong", "", `信用办答复（${dateTime.format(new Date(objection.answered_at))}）`),
      element("p", "", objection.answer));
    node.append(answer);
  }
  return node;
}

async function loadObjections() {
  try {
    const { objections } = await client.json("/api/objections");
    $("objection-list").replaceChildren(...objections.map(objectionItem));
    $("objection-empty").hidden = objections.length > 0;
  } catch (error) {
    say($("objection-message"), error.message, { error: true });
  }
}

registerScreen("objections", { enter: loadObjections });

$("credit-object").addEventListener("click", () => { showView("objections"); $("objection-kind").value = "credit"; showRedemptionChoice(); });
$("objection-kind").addEventListener("change", () => showRedemptionChoice());
$("objection-submit").addEventListener("click", fileObjection);
