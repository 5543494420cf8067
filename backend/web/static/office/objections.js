// The citizens' objections and complaints: ordered by due date, overdue ones in red, answered once.
import { $, addRow, button, client, formatTime, isWriter } from "./common.js";

const KINDS = { credit: "信用记录异议", redemption: "核销异议", complaint: "投诉" };

function answerCell(objection) {
  const box = document.createElement("div");
  if (objection.status === "answered") {
    box.textContent = `${objection.answer}（${formatTime(objection.answered_at)}）`;
    return box;
  }
  if (!isWriter()) { box.textContent = "待答复"; return box; }
  const text = document.createElement("textarea");
  Object.assign(text, { rows: 2, maxLength: 2000, placeholder: "答复内容（市民可在“我的异议”中看到）" });
  box.append(text, button("答复", async () => {
    if (!text.value.trim()) { $("objections-status").textContent = "请填写答复内容"; return; }
    try {
      await client.json(`/api/office/objections/${objection.id}/answer`, { method: "POST",
        json: { text: text.value.trim() } });
      await load();
      $("objections-status").textContent = `已答复异议 ${objection.id}`;
    } catch (error) { $("objections-status").textContent = error.message; }
  }, "primary"));
  return box;
}

export async function load(event) {
  if (event) event.preventDefault();
  const status = $("objection-status").value;
  try {
    const { objections } = await client.json(`/api/office/objections${status ? `?status=${status}` : ""}`);
    const body = $("objection-table").tBodies[0];
    body.innerHTML = "";
    for (const objection of objections) {
      const text = objection.redemption_id ? `${objection.text}（核销 ${objection.redemption_id}）` : objection.text;
      const due = formatTime(objection.due_at) + (objection.overdue ? " 已超期" : "");
      const row = addRow(body, [objection.id, KINDS[objection.kind] || objection.kind, text,
        formatTime(objection.created_at), due, answerCell(objection)]);
      if (objection.overdue) row.classList.add("overdue");
    }
    const overdue = objections.filter((o) => o.overdue).length;
    $("objections-status").textContent = objections.length
      ? `共 ${objections.length} 件${overdue ? `，其中 ${overdue} 件已超期未答复` : ""}` : "暂无异议与投诉";
  } catch (error) { $("objections-status").textContent = error.message; }
}

export function init() {
  $("objection-filters").addEventListener("submit", load);
}
