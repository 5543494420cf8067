// Whose pass: a company's representative chooses between their own and the company's (kept per device).
import { $, HOLDER_KEY, state } from "./state.js";
import { showView } from "./screens.js";
import { clearQr } from "./pass.js";
import { records } from "./history.js";

export function chooseHolder() {
  const represents = Boolean(state.account?.companies?.length);
  $("holder-switch").hidden = !represents;
  if (!represents) { state.holder = null; return; }
  const saved = localStorage.getItem(HOLDER_KEY);
  state.holder = saved === "person" || saved === "company" ? saved : (state.account.identity_bound ? "person" : "company");
  markHolder();
}

function markHolder() {
  for (const button of $("holder-switch").querySelectorAll("button")) {
    button.setAttribute("aria-checked", String(button.dataset.holder === state.holder));
  }
}

function setHolder(choice) {
  if (choice === state.holder) return;
  state.holder = choice;
  localStorage.setItem(HOLDER_KEY, choice);
  markHolder();
  records.items.clear();
  clearQr();  // the other holder's code must not stay on screen
  showView(state.view, { reload: true });
}

for (const button of $("holder-switch").querySelectorAll("button")) {
  button.addEventListener("click", () => setHolder(button.dataset.holder));
}
