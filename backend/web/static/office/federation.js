// Partner cities (多地互认): each city's state and its tier levels with what they mean there, and which
// of our tiers each one counts as here. The admin changes the mapping; the API audits it.
import { $, addRow, button, client, formatTime, isWriter, tiers } from "./common.js";

const NOT_ACCEPTED = "";

function stateLine(city) {
  if (!city.issuer) return `尚未同步成功${city.last_error ? `：${city.last_error}` : ""}`;
  const trust = city.trusted ? `互认有效至 ${formatTime(city.trusted_until)}` : "已超过信任列表有效期，暂停互认";
  return `${trust}；最近同步 ${formatTime(city.last_synced_at)}${city.last_error ? `（最近一次未采用：${city.last_error}）` : ""}`;
}

function mappingSelect(tier, ours) {
  const select = document.createElement("select");
  select.dataset.level = String(tier.level);
  select.setAttribute("aria-label", `对方“${tier.name}”在本市对应的等级`);
  for (const [value, text] of [[NOT_ACCEPTED, "不认可"], ...ours.map((t) => [t.code, t.name])]) {
    select.appendChild(new Option(text, value, false, (tier.maps_to || NOT_ACCEPTED) === value));
  }
  select.disabled = !isWriter();
  return select;
}

function cityCard(city, ours) {
  const card = document.createElement("section");
  card.className = "federation-city";
  card.dataset.partner = String(city.id);
  const title = document.createElement("h3");
  title.textContent = city.name ? `${city.name}（${city.issuer}）` : city.url;
  const state = document.createElement("p");
  state.textContent = stateLine(city);
  card.append(title, state);
  if (!city.tiers.length) return card;
  const table = document.createElement("table");
  table.innerHTML = "<thead><tr><th>对方等级</th><th>对方评定条件</th><th>在本市视同</th></tr></thead><tbody></tbody>";
  const selects = [];
  for (const tier of city.tiers) {
    const select = mappingSelect(tier, ours);
    selects.push(select);
    addRow(table.tBodies[0], [tier.name, tier.criteria.join("；"), select]);
  }
  card.appendChild(table);
  if (isWriter()) {
    card.appendChild(button("保存对应关系", async () => {
      const tierMap = Object.fromEntries(selects.map((s) => [s.dataset.level, s.value === NOT_ACCEPTED ? null : s.value]));
      try {
        await client.json(`/api/federation/partners/${city.id}/tier-map`, { method: "PUT", json: { tier_map: tierMap } });
        $("federation-status").textContent = `${city.name || city.url}：已保存等级对应关系`;
      } catch (error) { $("federation-status").textContent = error.message; }
    }, "primary"));
  }
  return card;
}

export async function load() {
  try {
    const [{ partners }, ours] = await Promise.all([client.json("/api/federation/partners"), tiers()]);
    const box = $("federation-cities");
    box.innerHTML = "";
    for (const city of partners) box.appendChild(cityCard(city, ours));
    $("federation-status").textContent = partners.length ? "" : "尚未登记互认城市（由运维人员以 flask federation add 登记）";
  } catch (error) { $("federation-status").textContent = error.message; }
}

export function init() {}
