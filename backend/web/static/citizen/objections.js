// 异议与投诉: the form and the list live in ../objection-form.js (photos, statuses, due dates); this
// module hands it the page's client, views and history, and opens it from the other screens.
import { $, client } from "./state.js";
import { registerScreen, showView } from "./screens.js";
import { loadHistory, records } from "./history.js";
import { setupObjections } from "../objection-form.js";

const objections = setupObjections({
  client,
  showView,
  history: async () => {
    if (!records.items.size) await loadHistory({ reset: true });
    return [...records.items.values()];
  },
});

/** Open the form for an objection to redemption `redemptionId`. */
export function objectTo(redemptionId) {
  objections.start("redemption", redemptionId);
}

registerScreen("objections", { enter: () => objections.load() });

$("credit-object").addEventListener("click", () => objections.start("credit"));
