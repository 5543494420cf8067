// 哪里可以用: the partners under the pass, each once, and the tier names the pass screen shows.
import { $, client, element, state } from "./state.js";

export async function loadDirectory() {
  const [keys, directory] = await Promise.all([client.json("/api/pass/keys"), client.json("/api/partners")]);
  state.tierNames = keys.tiers;
  const seen = new Set();
  const items = [];
  for (const partner of directory.partners) {
    if (seen.has(partner.id)) continue;  // each partner once
    seen.add(partner.id);
    const item = element("li");
    item.append(element("div", "", partner.name), element("div", "scenario",
      [partner.scenario, partner.address].filter(Boolean).join(" · ")),
      element("div", "perk", partner.perks.map((perk) => perk.title).join("；")));
    items.push(item);
  }
  $("partner-list").replaceChildren(...items);
}
