// The privacy notice (个人信息保护告知书) at first sign-in, and again when it changes: nothing else
// is shown until the citizen agrees. Declining at first sign-in deletes what the sign-in left
// (the phone number or WeChat id), as the notice says.
import { $, client, element, state } from "./state.js";
import { forgetHere, start } from "./signin.js";
import { stopPass } from "./pass.js";
import { VIEWS } from "./screens.js";
import { say } from "../prefs.js";

let shownVersion = null;

/** The account has not agreed to the notice in force. */
export const needsConsent = (account) => Boolean(account) && account.consent?.version !== account.privacy_version;

export async function showConsent() {
  stopPass();
  for (const id of ["account", "tabs", "bind", "erase", "signin", ...VIEWS.map((name) => `view-${name}`)]) $(id).hidden = true;
  $("consent").hidden = false;
  say($("consent-error"), "");
  $("consent-agree").disabled = true;
  try {
    const notice = await client.json("/api/auth/privacy");
    shownVersion = notice.version;
    $("consent-title").textContent = notice.title;
    $("consent-text").replaceChildren(...notice.sections.flatMap((section) =>
      [element("h3", "", section.title), element("p", "", section.text)]));
    $("consent-version").textContent = `版本 ${notice.version}`;
    $("consent-agree").disabled = false;
  } catch (error) {
    say($("consent-error"), error.message, { error: true });
  }
}

async function agree() {
  $("consent-agree").disabled = true;
  try {
    await client.json("/api/auth/consent", { method: "POST", json: { version: shownVersion } });
    $("consent").hidden = true;
    await start();
  } catch (error) {
    if (error.code === "consent_outdated") { showConsent(); }  // the notice changed while it was read
    say($("consent-error"), error.message, { error: true });
  } finally {
    $("consent-agree").disabled = false;
  }
}

async function decline() {
  const first = !state.account?.consent;
  try {
    if (first) await client.request("/api/auth/account", { method: "DELETE" });
    else await client.request("/api/auth/logout", { method: "POST" });
  } catch (error) {
    say($("consent-error"), error.message, { error: true });
    return;
  }
  forgetHere(first ? "您未同意个人信息保护告知书，本次登录留下的手机号或微信信息已删除。"
    : "您未同意新版个人信息保护告知书，已退出登录。");
}

$("consent-agree").addEventListener("click", agree);
$("consent-decline").addEventListener("click", decline);
