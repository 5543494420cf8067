// 使用记录: my redemptions, paged, voided ones marked, each with a way to object to it.
import { $, client, dateTime, element, holderQuery } from "./state.js";
import { registerScreen } from "./screens.js";
import { showBind } from "./identity.js";
import { objectTo } from "./objections.js";
import { formatFen } from "../money.js";
import { say } from "../prefs.js";

export const records = { next: 1, items: new Map() };  // my history, as far as it has been paged

function historyItem(item) {
  const node = element("li", item.status === "voided" ? "voided" : "");
  const head = element("div", "row");
  head.append(element("strong", "", item.partner), element("span", "when", dateTime.format(new Date(item.at))));
  node.append(head, element("div", "perk", item.perk));
  const figures = [];
  if (item.amount_fen !== null) {
    figures.push(`消费 ${formatFen(item.amount_fen)}`, `优惠 ${formatFen(item.discount_fen)}`, `实付 ${formatFen(item.payable_fen)}`);
  }
  if (item.quota !== null) figures.push(`使用 ${item.quota} 次`);
  if (figures.length) node.append(element("div", "figures", figures.join("，")));
  const tags = element("div", "tags");
  if (item.status === "voided") tags.append(element("span", "tag bad", "已撤销"));
  if (item.offline) tags.append(element("span", "tag", "离线核销"));
  if (item.holder_kind === "company") tags.append(element("span", "tag", "企业"));
  const object = element("button", "link", "对此记录提出异议");
  object.type = "button";
  object.addEventListener("click", () => objectTo(item.id));
  tags.append(object);
  node.append(tags);
  return node;
}

export async function loadHistory({ reset = false } = {}) {
  if (reset) {
    records.next = 1;
    records.items.clear();
    $("history-list").replaceChildren();
  }
  if (records.next === null) return;
  say($("history-error"), "");
  $("history-more").disabled = true;
  try {
    const page = await client.json(`/api/me/redemptions?page=${records.next}${holderQuery("&")}`);
    for (const item of page.items) {
      records.items.set(item.id, item);
      $("history-list").appendChild(historyItem(item));
    }
    records.next = page.next;
  } catch (error) {
    if (error.code === "holder_not_bound") { showBind(); return; }
    say($("history-error"), error.message, { error: true });
  } finally {
    $("history-more").disabled = false;
  }
  $("history-more").hidden = records.next === null;
  $("history-empty").hidden = records.items.size > 0 || $("history-error").textContent !== "";
}

registerScreen("history", {
  enter: ({ changed, reload }) => { if (changed || reload) loadHistory({ reset: true }); },
});

$("history-more").addEventListener("click", () => loadHistory());
