// Identity binding (实名认证): asked for when the server cannot issue a pass to an unbound account.
import { $, client } from "./state.js";
import { clearQr, stopPass } from "./pass.js";
import { start } from "./signin.js";
import { say } from "../prefs.js";

export function showBind(message = "") {
  stopPass();
  clearQr();
  $("pass").hidden = true;
  $("bind").hidden = false;
  say($("bind-error"), message, { error: true });
}

// The ID number is checked here only to spare a round trip; the server checks it again (GB 11643).
function idNumberLooksValid(value) {
  if (!/^\d{17}[\dX]$/.test(value)) return false;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = weights.reduce((acc, w, i) => acc + w * Number(value[i]), 0);
  return "10X98765432"[sum % 11] === value[17];
}

async function bindIdentity() {
  const name = $("bind-name").value.trim();
  const idNumber = $("bind-id").value.trim().toUpperCase();
  if (!idNumberLooksValid(idNumber)) { say($("bind-error"), "身份证号码格式或校验位不正确", { error: true }); return; }
  $("bind-submit").disabled = true;
  try {
    await client.request("/api/auth/identity", { method: "POST", json: { name, id_number: idNumber } });
    $("bind-id").value = "";  // never keep the number on screen or in memory longer than needed
    $("bind-name").value = "";
    await start();
  } catch (error) {
    say($("bind-error"), error.message, { error: true });
  } finally {
    $("bind-submit").disabled = false;
  }
}

$("bind-submit").addEventListener("click", bindIdentity);
