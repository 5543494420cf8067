// The citizens' objections and complaints: the open ones first by due date (overdue in red), each
// accepted (已受理), given to a clerk (处理中) and answered once (已办结); photos shown in place.
import { $, addRow, button, calendarAttention, calendarName, client, formatTime, isWriter } from "./common.js";

const KINDS = { credit: "信用记录异议", redemption: "核销异议", complaint: "投诉" };
let assignees = [];
// Each photo is fetched when its row first comes into view, and once per visit of the page: the
// server audits every fetch as this clerk opening the citizen's photo, so a photo scrolled past
// unseen, or the table redrawn after 受理, must not count as another look. Photo URL → its blob: URL.
const photoCache = new Map();
let photoObserver = null;

function showPhoto(image, url) {
  if (!photoCache.has(url)) {
    photoCache.set(url, client.request(url).then((answer) => answer.blob()).then((blob) => URL.createObjectURL(blob)));
  }
  photoCache.get(url).then((src) => { image.src = src; }, () => {
    photoCache.delete(url);
    image.alt = "照片暂时无法显示";
  });
}

/** A new observer for a redrawn table; the photos no longer listed are released. */
function watchPhotos(listed) {
  if (photoObserver) photoObserver.disconnect();
  photoObserver = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      photoObserver.unobserve(entry.target);
      showPhoto(entry.target, entry.target.dataset.url);
    }
  }, { rootMargin: "200px" });
  for (const [url, blob] of photoCache) {
    if (listed.has(url)) continue;
    photoCache.delete(url);
    blob.then((src) => URL.revokeObjectURL(src), () => {});
  }
}

async function act(objection, path, json, done) {
  try {
    await client.json(`/api/office/objections/${objection.id}/${path}`, { method: "POST", json });
    await load();
    $("objections-status").textContent = done;
  } catch (error) { $("objections-status").textContent = error.message; }
}

function workCell(objection) {
  const box = document.createElement("div");
  box.className = "objection-work";
  if (objection.status === "closed") {
    box.textContent = `${objection.answer}（${formatTime(objection.answered_at)}）`;
    return box;
  }
  if (!isWriter()) { box.textContent = objection.assigned_to ? `经办人：${objection.assigned_to}` : "待办理"; return box; }
  if (objection.status === "submitted") {
    box.append(button("受理", () => act(objection, "accept", undefined, `已受理异议 ${objection.id}`)));
  } else {
    const select = document.createElement("select");
    select.setAttribute("aria-label", `异议 ${objection.id} 的经办人`);
    select.append(new Option("选择经办人", ""), ...assignees.map((a) => new Option(a.username, String(a.id))));
    const current = assignees.find((a) => a.username === objection.assigned_to);
    if (current) select.value = String(current.id);
    box.append(select, button(objection.assigned_to ? "改派" : "指派", () => {
      if (!select.value) { $("objections-status").textContent = "请选择经办人"; return; }
      act(objection, "assign", { assignee_id: Number(select.value) }, `已指派异议 ${objection.id}`);
    }));
  }
  const text = document.createElement("textarea");
  Object.assign(text, { rows: 2, maxLength: 2000, placeholder: "答复内容（市民可在“我的异议”中看到）" });
  text.setAttribute("aria-label", `异议 ${objection.id} 的答复`);
  box.append(text, button("答复并办结", () => {
    if (!text.value.trim()) { $("objections-status").textContent = "请填写答复内容"; return; }
    act(objection, "answer", { text: text.value.trim() }, `已答复异议 ${objection.id}`);
  }, "primary"));
  return box;
}

function contentCell(objection) {
  const box = document.createElement("div");
  const about = [objection.partner && `被投诉单位：${objection.partner}`,
    objection.redemption_id && `核销 ${objection.redemption_id}`].filter(Boolean).join("，");
  box.textContent = about ? `${objection.text}（${about}）` : objection.text;
  if (objection.photos.length) {
    const photos = document.createElement("div");
    photos.className = "photos";
    objection.photos.forEach((url, index) => {
      const image = document.createElement("img");
      image.alt = `照片 ${index + 1}`;
      image.dataset.url = url;
      photos.append(image);
      photoObserver.observe(image);
    });
    box.append(photos);
  }
  return box;
}

export async function load(event) {
  if (event) event.preventDefault();
  const status = $("objection-status").value;
  try {
    const answer = await client.json(`/api/office/objections${status ? `?status=${status}` : ""}`);
    assignees = answer.assignees;
    const { objections } = answer;
    const attention = calendarAttention(answer.calendar_attention);
    $("objections-attention").hidden = !attention;
    $("objections-attention").textContent = attention
      ? `答复期限所用的“${calendarName(answer.calendar)}”日历：${attention}。请到“场景与暂停日历”中核对。` : "";
    watchPhotos(new Set(objections.flatMap((objection) => objection.photos)));
    const body = $("objection-table").tBodies[0];
    body.innerHTML = "";
    for (const objection of objections) {
      const due = formatTime(objection.due_at) + (objection.overdue ? " 已超期" : "");
      const state = objection.status_name + (objection.assigned_to && objection.status !== "closed"
        ? `（${objection.assigned_to}）` : "");
      const row = addRow(body, [objection.id, KINDS[objection.kind] || objection.kind, contentCell(objection),
        formatTime(objection.created_at), due, state, workCell(objection)]);
      if (objection.overdue) row.classList.add("overdue");
    }
    const overdue = objections.filter((o) => o.overdue).length;
    $("objections-status").textContent = objections.length
      ? `共 ${objections.length} 件${overdue ? `，其中 ${overdue} 件已超期未办结` : ""}` : "暂无异议与投诉";
  } catch (error) { $("objections-status").textContent = error.message; }
}

export function init() {
  $("objection-filters").addEventListener("submit", load);
}
