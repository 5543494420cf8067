// Deleting one's account (注销账号): say plainly what goes and what stays, ask once more, then end
// every session; the phone keeps nothing of it.
import { $, client, state } from "./state.js";
import { showView, VIEWS } from "./screens.js";
import { forgetHere } from "./signin.js";
import { stopPass } from "./pass.js";
import { say } from "../prefs.js";

function showErase() {
  stopPass();
  for (const id of ["tabs", "bind", ...VIEWS.map((name) => `view-${name}`)]) $(id).hidden = true;
  $("erase").hidden = false;
  say($("erase-error"), "");
  $("erase-cancel").focus();
}

function cancel() {
  $("erase").hidden = true;
  $("tabs").hidden = false;
  showView(state.view || "pass", { reload: true });
}

async function erase() {
  $("erase-confirm").disabled = true;
  try {
    await client.request("/api/auth/account", { method: "DELETE" });
    forgetHere("账号已注销，手机号和实名信息已删除。");
  } catch (error) {
    say($("erase-error"), error.message, { error: true });
  } finally {
    $("erase-confirm").disabled = false;
  }
}

$("delete-account").addEventListener("click", showErase);
$("erase-cancel").addEventListener("click", cancel);
$("erase-confirm").addEventListener("click", erase);
