// 我的信用: the tier, eligible or not and why in plain words, the routes (objection, repair), and
// what the tier unlocks near me.
import { $, client, dateOnly, element, holderQuery } from "./state.js";
import { registerScreen } from "./screens.js";
import { showBind } from "./identity.js";
import { say } from "../prefs.js";

async function loadCredit() {
  say($("credit-error"), "");
  let credit;
  try {
    credit = await client.json(`/api/me/credit${holderQuery()}`);
  } catch (error) {
    if (error.code === "holder_not_bound") { showBind(); return; }
    say($("credit-error"), error.message, { error: true });
    return;
  }
  $("credit-kind").textContent = credit.holder_kind === "company" ? "企业信用" : "个人信用";
  $("credit-tier").textContent = credit.tier_name;
  $("credit-tier").classList.toggle("bad", !credit.eligible);
  const verdict = credit.black_listed ? "已列入失信黑名单，暂不能享受信易+激励"
    : credit.eligible ? "可以享受信易+激励" : "暂不能享受信易+激励";
  $("credit-verdict").textContent = verdict;
  $("credit-verdict").classList.toggle("bad", !credit.eligible);
  $("credit-reasons").replaceChildren(...credit.reasons.map((reason) => element("li", "", reason)));
  $("credit-updated").textContent = credit.updated_at
    ? `信用数据更新于 ${dateOnly.format(new Date(credit.updated_at))}` : "";
  $("credit-routes").replaceChildren(...credit.routes.map((route) => {
    const item = element("li");
    item.append(element("strong", "", route.title), element("p", "", route.text));
    return item;
  }));
  const perks = credit.perks.map((perk) => {
    const item = element("li");
    item.append(element("div", "", perk.partner), element("div", "perk", perk.title));
    if (perk.address) item.append(element("div", "scenario", perk.address));
    return item;
  });
  if (!perks.length) perks.push(element("li", "hint", credit.eligible ? "暂无可享受的优惠" : "达到信用等级后可享受合作单位的优惠"));
  $("credit-perks").replaceChildren(...perks);
}

registerScreen("credit", { enter: loadCredit });
