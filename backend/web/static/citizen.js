// The citizen's page: sign in, show a 信用码 that refreshes itself and never goes blank while it is
// valid, my credit and why, my history, and objections. Each screen is a module in citizen/ that
// registers itself with citizen/screens.js; this file only starts the page and listens for the
// network and sign-in links. The session is kept on the phone (localStorage).
import { client, state } from "./citizen/state.js";
import { pass, refreshPass } from "./citizen/pass.js";
import { start, showSignin, takeTokenFromFragment, takeWeChatCode } from "./citizen/signin.js";
import { loadDirectory } from "./citizen/directory.js";
import "./citizen/credit.js";
import "./citizen/history.js";
import "./citizen/objections.js";
import "./citizen/holder.js";
import "./citizen/identity.js";
import "./citizen/consent.js";
import "./citizen/account.js";
import { largeTextSwitch } from "./prefs.js";

const $signin = () => document.getElementById("signin");

takeTokenFromFragment();
largeTextSwitch(document.getElementById("large-text"));
// The network is back: refresh now rather than at the next retry.
window.addEventListener("online", () => {
  if (!client.accessToken()) return;
  pass.retryMs = 0;
  if (!state.account) start(); else if (state.view === "pass") refreshPass();
});
// A sign-in link opened while the page is open only changes the fragment: take its token too.
window.addEventListener("hashchange", () => {
  if (!location.hash.includes("token=")) return;
  takeTokenFromFragment();
  start();
});
const directory = loadDirectory().catch(() => {});
const fromWeChat = await takeWeChatCode();
await directory;
if (fromWeChat || client.accessToken()) await start(); else if ($signin().hidden) showSignin();
