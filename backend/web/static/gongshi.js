// 公示: the public directory of partners and their perks with every condition in plain words,
// filtered by scenario and searched by name, address or perk. No sign-in; nothing personal.
import { createClient } from "./api.js";
import { formatFen, permilleLabel } from "./money.js";
import { largeTextSwitch, say } from "./prefs.js";

const $ = (id) => document.getElementById(id);
const client = createClient({ storage: sessionStorage, name: "gongshi" });
// A citizen signed in on /m/ on this phone sees the directory for their own tier (16.8).
const citizen = createClient({ storage: localStorage, name: "citizen" });
const HOLDER_KINDS = { person: "个人", company: "企业" };
const CALENDARS = { major_holidays: "法定节假日（元旦、春节、清明、劳动节、端午、中秋、国庆）不可用" };
let partners = [];
let former = [];  // partners that left the programme: 公示 keeps them, with the date and reason
let tierNames = {};
let mine = null;  // /api/me/credit of the signed-in citizen, if any

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Each condition of a perk as [label, plain words]; nothing left out, nothing in code words. */
function conditions(perk, tiers) {
  const tier = (code) => tiers[code] || "守信";
  const rows = [];
  if (perk.kind === "discount" && perk.discount_permille) {
    rows.push(["优惠", `${permilleLabel(perk.discount_permille)}${perk.max_discount_fen ? `，每次最多优惠 ${formatFen(perk.max_discount_fen)}` : ""}`]);
  }
  rows.push(["适用", (perk.holder_kinds || ["person"]).map((kind) => HOLDER_KINDS[kind] || kind).join("、")]);
  rows.push(["信用等级", `${tier(perk.min_tier)}及以上`]);
  if (perk.quota_by_tier) {
    rows.push(["额度", Object.entries(perk.quota_by_tier)
      .map(([code, quota]) => `${tier(code)} ${quota} ${perk.quota_unit || "次"}`).join("；")]);
  }
  rows.push(["次数", perk.limit_per_holder_per_day ? `每人每天限 ${perk.limit_per_holder_per_day} 次` : "每天不限次数"]);
  if (perk.time_windows && perk.time_windows.length) {
    rows.push(["时段", `每天 ${perk.time_windows.map((w) => w.replace("-", "–")).join("、")}（北京时间），其他时间不可用`]);
  }
  rows.push(["节假日", perk.blackout_calendar ? (CALENDARS[perk.blackout_calendar] || "指定节假日不可用") : "节假日照常可用"]);
  if (perk.active_from || perk.active_until) {
    rows.push(["有效期", `${perk.active_from || "即日起"} 至 ${perk.active_until || "长期"}`]);
  }
  return rows;
}

/** What this perk means for the signed-in holder: [can use, plain words]. */
function forMe(perk) {
  const rank = (code) => Object.keys(tierNames).indexOf(code);
  if (!mine.eligible) return [false, "您当前暂不能享受信易+优惠"];
  if (!(perk.holder_kinds || ["person"]).includes(mine.holder_kind)) {
    return [false, `仅限${perk.holder_kinds.map((kind) => HOLDER_KINDS[kind]).join("、")}使用`];
  }
  if (rank(mine.tier) < rank(perk.min_tier)) {
    return [false, `需${tierNames[perk.min_tier]}及以上，您当前为${mine.tier_name}`];
  }
  const quota = perk.quota_by_tier?.[mine.tier];
  return [true, quota ? `您可使用：${quota} ${perk.quota_unit || "次"}` : "您可使用"];
}

function partnerCard(partner) {
  const card = element("li", "card");
  card.append(element("h2", "", partner.name));
  card.append(element("div", "scenario", partner.scenario));
  card.append(element("div", "address", partner.address ? `地址：${partner.address}` : "地址：请向信用办咨询"));
  if (partner.hours) card.append(element("div", "address", `营业时间：${partner.hours}`));
  for (const perk of partner.perks) {
    const block = element("div", "perk-block");
    block.append(element("div", "perk", perk.title));
    const list = element("dl", "conditions");
    for (const [label, text] of conditions(perk, tierNames)) list.append(element("dt", "", label), element("dd", "", text));
    block.append(list);
    if (mine) {
      const [usable, words] = forMe(perk);
      block.append(element("p", `tag ${usable ? "good" : "bad"} for-me`, words));
    }
    card.append(block);
  }
  if (!partner.perks.length) card.append(element("p", "hint", "暂无进行中的优惠"));
  return card;
}

function render() {
  const scenario = $("scenario").value;
  const words = $("search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const shown = partners.filter((partner) => {
    if (scenario && partner.scenario_code !== scenario) return false;
    const text = [partner.name, partner.address, partner.scenario, ...partner.perks.map((perk) => perk.title)]
      .join(" ").toLowerCase();
    return words.every((word) => text.includes(word));
  });
  $("directory").replaceChildren(...shown.map(partnerCard));
  say($("summary"), shown.length ? `共 ${shown.length} 家合作单位` : "没有符合条件的合作单位，请换个场景或关键词");
}

async function load() {
  try {
    const [keys, directory] = await Promise.all([client.json("/api/pass/keys"), client.json("/api/partners")]);
    tierNames = keys.tiers;
    const seen = new Map();
    for (const partner of directory.partners) if (!seen.has(partner.id)) seen.set(partner.id, partner);  // each once
    partners = [...seen.values()];
    former = directory.former || [];
  } catch (error) {
    say($("error"), error.message, { error: true });
    return;
  }
  const scenarios = new Map(partners.map((partner) => [partner.scenario_code, partner.scenario]));
  for (const [code, name] of scenarios) {
    const option = element("option", "", name);
    option.value = code;
    $("scenario").append(option);
  }
  mine = await loadMine();
  render();
  renderFormer();
}

function renderFormer() {
  $("former").hidden = !former.length;
  $("former-list").replaceChildren(...former.map((partner) => {
    const item = element("li", "former");
    item.append(element("strong", "", partner.name), element("span", "hint", `（${partner.scenario}）`));
    item.append(element("div", "", `${partner.left_on} 起退出：${partner.exit_reason}`));
    return item;
  }));
}

async function loadMine() {
  if (!citizen.accessToken()) return null;
  const holder = localStorage.getItem("xym.citizen.holder");
  try {
    const credit = await citizen.json(`/api/me/credit${holder ? `?holder=${holder}` : ""}`);
    say($("mine"), credit.eligible ? `您当前为“${credit.tier_name}”，每项优惠下注明了您能否使用。`
      : "您当前暂不能享受信易+优惠，原因与办理途径请见“我的信用”。");
    return credit;
  } catch (_) {
    return null;  // not signed in any more, or not bound: the public directory is the same for all
  }
}

largeTextSwitch($("large-text"));
$("scenario").addEventListener("change", render);
$("search").addEventListener("input", render);
await load();
