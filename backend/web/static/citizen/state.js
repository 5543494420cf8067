// What every screen of the citizen page shares: the API client, who is signed in and for whom,
// which screen is open, and small helpers for the page's elements and dates. No screen logic here.
import { createClient } from "../api.js";

export const $ = (id) => document.getElementById(id);

/** Set by the sign-in screen: what to do when the server ends the session. */
export const hooks = { signedOut: () => {} };

export const client = createClient({
  storage: localStorage, name: "citizen", onSignedOut: (error) => hooks.signedOut(error),
});

export const HOLDER_KEY = "xym.citizen.holder";

export const state = {
  account: null,   // /api/auth/me of the signed-in citizen
  holder: null,    // "person" or "company" for a company's representative; null lets the server choose
  view: null,      // the open screen
  tierNames: {},   // tier code -> name, from /api/pass/keys
};

export const holderQuery = (prefix = "?") => (state.holder ? `${prefix}holder=${state.holder}` : "");

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export const dateTime = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric",
  month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
export const dateOnly = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric",
  month: "2-digit", day: "2-digit" });
