// The citizen's objections and complaints (issue 16 item 7): the form (what it is about, the
// record or the partner, the text, up to 3 photos) and the list with status, due date, photos and
// the office's answer. citizen.js hands in what it owns (the API client, its history, its views).
import { say } from "./prefs.js";

const KINDS = { credit: "信用等级异议", redemption: "使用记录异议", complaint: "投诉" };
const STATUS_TAGS = { submitted: "", accepted: "", in_progress: "", closed: "good" };
const PHOTOS_MAX = 3;
const PHOTO_MAX_MB = 5;  // the server's OBJECTION_PHOTO_MAX_BYTES decides; this only spares a wasted upload
const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
const dateTime = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
const dateOnly = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
  day: "2-digit" });

const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Wire the objections view. `history()` resolves to the citizen's redemptions loaded so far (an
 * array of {id, at, partner, perk}); `showView(name)` switches the page to a view.
 */
export function setupObjections({ client, history, showView }) {
  let chosen = [];           // File objects picked, at most PHOTOS_MAX
  let shownUrls = [];        // blob: URLs of the photos on screen, released when the list is redrawn
  let partnersLoaded = false;

  function showPicked() {
    const list = $("objection-photos-picked");
    list.replaceChildren(...chosen.map((file, index) => {
      const item = element("li");
      const image = element("img");
      image.alt = `待上传照片 ${index + 1}`;
      image.src = URL.createObjectURL(file);
      image.addEventListener("load", () => URL.revokeObjectURL(image.src), { once: true });
      item.append(image, Object.assign(element("button", "link", "移除"), { type: "button",
        onclick: () => { chosen.splice(index, 1); showPicked(); } }));
      return item;
    }));
    $("objection-photo-add").hidden = chosen.length >= PHOTOS_MAX;
    $("objection-photo-count").textContent = `已选 ${chosen.length} / ${PHOTOS_MAX} 张`;
  }

  function pickPhotos() {
    const input = $("objection-photo-input");
    const refused = [];
    for (const file of input.files) {
      if (!PHOTO_TYPES.includes(file.type)) refused.push(`${file.name}：不是照片，只能上传手机拍摄或截图的图片`);
      else if (file.size > PHOTO_MAX_MB * 1024 * 1024) refused.push(`${file.name}：超过 ${PHOTO_MAX_MB} MB`);
      else if (chosen.length >= PHOTOS_MAX) refused.push(`最多 ${PHOTOS_MAX} 张照片`);
      else chosen.push(file);
    }
    input.value = "";
    showPicked();
    say($("objection-message"), refused.join("；"), { error: refused.length > 0 });
  }

  async function showChoices(selected) {
    const kind = $("objection-kind").value;
    $("objection-redemption-row").hidden = kind !== "redemption";
    $("objection-partner-row").hidden = kind !== "complaint";
    $("objection-merchant-note").hidden = kind !== "complaint";
    if (kind === "complaint" && !partnersLoaded) {
      const { partners } = await client.json("/api/partners");
      const seen = new Set();
      const options = [Object.assign(element("option", "", "请选择合作单位"), { value: "" })];
      for (const partner of partners) {
        if (seen.has(partner.id)) continue;
        seen.add(partner.id);
        options.push(Object.assign(element("option", "", partner.name), { value: String(partner.id) }));
      }
      $("objection-partner").replaceChildren(...options);
      partnersLoaded = true;
    }
    if (kind !== "redemption") return;
    const items = await history();
    const options = items.map((item) => Object.assign(
      element("option", "", `${dateTime.format(new Date(item.at))} ${item.partner} ${item.perk}`), { value: String(item.id) }));
    if (!options.length) options.push(Object.assign(element("option", "", "暂无使用记录"), { value: "" }));
    $("objection-redemption").replaceChildren(...options);
    if (selected) $("objection-redemption").value = String(selected);
  }

  async function submit() {
    say($("objection-message"), "");
    const kind = $("objection-kind").value;
    const body = { kind, text: $("objection-text").value };
    if (kind === "redemption") {
      const id = Number($("objection-redemption").value);
      if (!id) { say($("objection-message"), "请选择要提出异议的使用记录", { error: true }); return; }
      body.redemption_id = id;
    }
    if (kind === "complaint") {
      const id = Number($("objection-partner").value);
      if (!id) { say($("objection-message"), "请选择要投诉的合作单位", { error: true }); return; }
      body.partner_id = id;
    }
    $("objection-submit").disabled = true;
    try {
      const filed = await client.json("/api/objections", { method: "POST", json: body });
      const failed = [];
      for (const [index, file] of chosen.entries()) {
        say($("objection-message"), `正在上传照片 ${index + 1} / ${chosen.length}…`);
        const form = new FormData();
        form.append("file", file, file.name);
        try {
          await client.request(`/api/objections/${filed.id}/photos`, { method: "POST", body: form });
        } catch (error) { failed.push(`照片 ${index + 1}：${error.message}`); }
      }
      $("objection-text").value = "";
      chosen = [];
      showPicked();
      const done = `已提交（编号 ${filed.id}），信用办将在 ${dateOnly.format(new Date(filed.due_at))} 前答复。`;
      if (failed.length) say($("objection-message"), `${done}但有照片未能上传：${failed.join("；")}`, { error: true });
      else say($("objection-message"), done);
      await load();
    } catch (error) {
      say($("objection-message"), error.message, { error: true });
    } finally {
      $("objection-submit").disabled = false;
    }
  }

  async function photo(url, index) {
    const image = element("img");
    image.alt = `照片 ${index + 1}`;
    try {
      const blob = await (await client.request(url)).blob();
      image.src = URL.createObjectURL(blob);
      shownUrls.push(image.src);
    } catch (_) { image.alt = "照片暂时无法显示"; }
    return image;
  }

  async function item(objection) {
    const node = element("li");
    const head = element("div", "row");
    const about = objection.partner ? `：${objection.partner}` : "";
    head.append(element("strong", "", `${KINDS[objection.kind] || "异议"}${about}（编号 ${objection.id}）`),
      element("span", `tag ${STATUS_TAGS[objection.status] || ""}`, objection.status_name));
    node.append(head, element("p", "", objection.text));
    if (objection.photos.length) {
      const photos = element("div", "photos");
      photos.append(...await Promise.all(objection.photos.map(photo)));
      node.append(photos);
    }
    const dates = `提交于 ${dateTime.format(new Date(objection.created_at))}，答复期限 ${dateOnly.format(new Date(objection.due_at))}（工作日计算）`;
    node.append(element("div", "when", dates));
    if (objection.overdue) node.append(element("div", "tag bad", "已超过答复期限，可向信用办催办"));
    if (objection.answer) {
      const answer = element("div", "answer");
      answer.append(element("strong", "", `信用办答复（${dateTime.format(new Date(objection.answered_at))}）`),
        element("p", "", objection.answer));
      node.append(answer);
    }
    return node;
  }

  async function load() {
    try {
      const { objections } = await client.json("/api/objections");
      const items = await Promise.all(objections.map(item));
      for (const url of shownUrls.splice(0)) URL.revokeObjectURL(url);
      $("objection-list").replaceChildren(...items);
      $("objection-empty").hidden = objections.length > 0;
    } catch (error) {
      say($("objection-message"), error.message, { error: true });
    }
  }

  /** Open the form about `kind` (and that redemption). */
  function start(kind, redemptionId) {
    showView("objections");
    $("objection-kind").value = kind;
    showChoices(redemptionId);
  }

  $("objection-kind").addEventListener("change", () => showChoices());
  $("objection-submit").addEventListener("click", submit);
  $("objection-photo-add").addEventListener("click", () => $("objection-photo-input").click());
  $("objection-photo-input").addEventListener("change", pickPhotos);
  showPicked();
  return { load, start };
}
