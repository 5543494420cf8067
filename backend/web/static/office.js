// The credit office's dashboard: sign-in, the screens each role may see, and which screen a role
// lands on (the auditor lands on the audit log). Each screen is a module under office/.
import { $, client, onSignedOut, role } from "./office/common.js";
import * as audit from "./office/audit.js";
import * as federation from "./office/federation.js";
import * as ladder from "./office/ladder.js";
import * as objections from "./office/objections.js";
import * as partners from "./office/partners.js";
import * as perks from "./office/perks.js";
import * as review from "./office/review.js";
import * as settings from "./office/settings.js";
import * as stats from "./office/stats.js";

const ROLE_NAMES = { office_admin: "管理员", office_analyst: "分析员", office_auditor: "审计员" };
const LANDING = { office_auditor: "audit" };
// What opening a screen loads (fresh each time: another clerk may have changed it).
const LOADERS = {
  stats: async () => { stats.resizeChart(); await stats.loadStats(); },
  import: async () => {},
  partners: partners.load,
  ladder: ladder.load,
  settings: settings.load,
  failed: review.loadFailedScreen,
  conflicts: review.loadConflicts,
  voids: async () => {},
  objections: () => objections.load(),
  audit: audit.load,
  federation: federation.load,
};

const tabButtons = () => [...document.querySelectorAll("#tabs [data-tab]")];
const allowed = (button, current) => button.dataset.roles.split(" ").includes(current);

function openTab(name) {
  for (const button of tabButtons()) button.classList.toggle("current", button.dataset.tab === name);
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.dataset.screen !== name;
  $("workspace").dataset.tab = name;
  return LOADERS[name]();
}

async function login(event) {
  event.preventDefault();
  try {
    const session = await client.json("/api/auth/office/login", {
      method: "POST", json: { username: $("username").value, password: $("password").value },
    });
    client.keep(session);
    $("password").value = "";
    $("signin-error").textContent = "";
    show();
  } catch (error) { $("signin-error").textContent = error.message; }
}

async function logout() {
  try { await client.request("/api/auth/logout", { method: "POST", json: {} }); } catch (_) { /* signed out anyway */ }
  client.forget();
  show();
}

function show() {
  const current = role();
  $("signin").hidden = Boolean(current);
  $("workspace").hidden = !current;
  $("tabs").hidden = !current;
  $("logout").hidden = !current;
  $("who").textContent = current ? ROLE_NAMES[current] || current : "";
  document.body.dataset.role = current || "";
  if (!current) return;
  for (const button of tabButtons()) button.hidden = !allowed(button, current);
  openTab(LANDING[current] || "stats");
}

for (const module of [stats, partners, perks, ladder, settings, review, objections, audit, federation]) module.init();
for (const button of tabButtons()) button.addEventListener("click", () => openTab(button.dataset.tab));
$("signin").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
onSignedOut(() => show());
show();
