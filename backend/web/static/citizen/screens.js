// The screens behind the tabs. Each screen module registers what to do when it is opened
// (`enter`) and left (`leave`), so that opening one needs no import of the others.
import { $, state } from "./state.js";

const screens = new Map();  // name -> { enter({ changed, reload }), leave() }

export const VIEWS = ["pass", "credit", "history", "objections"];

export function registerScreen(name, { enter, leave = () => {} }) {
  screens.set(name, { enter, leave });
}

export function showView(name, { reload = false } = {}) {
  const changed = name !== state.view;
  state.view = name;
  for (const other of VIEWS) $(`view-${other}`).hidden = other !== name;
  for (const tab of $("tabs").querySelectorAll("button")) {
    if (tab.dataset.view === name) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
  }
  $("bind").hidden = true;
  for (const [other, screen] of screens) if (other !== name) screen.leave();
  screens.get(name)?.enter({ changed, reload });
}

for (const tab of $("tabs").querySelectorAll("button")) tab.addEventListener("click", () => showView(tab.dataset.view));
