// The tier names and the tier ladder (信用等级与等级阶梯), edited in the city file's own words:
// {person: {points_at_least: [[1050, 1], ...], red_list: 4}, company: {rating_at_least: [["B", 1], ...],
// tax_grade_a: 2, red_list: 4}}. The server checks it with the city loader's rules and answers in Chinese.
import { $, addRow, button, client, fillSelect, forgetTiers, isWriter } from "./common.js";

const RATINGS = ["AAA", "AA", "A", "B", "C", "D"];
let tierRows = []; // [{level, code, name}] as on screen

function input(value, attributes = {}) {
  const node = document.createElement("input");
  Object.assign(node, attributes);
  node.value = value ?? "";
  node.disabled = !isWriter();
  return node;
}

function select(pairs, value) {
  const node = document.createElement("select");
  fillSelect(node, pairs);
  node.value = value ?? "";
  node.disabled = !isWriter();
  return node;
}

/** [level, "3 诚信优秀"] for each tier, named as on screen now (a name being edited included). */
function levelChoices(none) {
  const shown = $("tier-table").tBodies[0].rows.length ? collect().tiers : tierRows;
  return [...(none ? [["", none]] : []), ...shown.map((t) => [String(t.level), `${t.level} ${t.name}`])];
}

function showTiers() {
  const body = $("tier-table").tBodies[0];
  body.innerHTML = "";
  for (const tier of tierRows) {
    const code = input(tier.code, { maxLength: 32, required: true });
    const name = input(tier.name, { maxLength: 64, required: true });
    code.dataset.field = "code";
    name.dataset.field = "name";
    const row = addRow(body, [String(tier.level), code, name]);
    row.dataset.level = String(tier.level);
  }
}

function rungRow(tbody, threshold, level) {
  const cells = [threshold, select(levelChoices(), level === undefined ? "" : String(level))];
  if (isWriter()) cells.push(button("删除", (event) => event.target.closest("tr").remove(), "danger"));
  addRow(tbody, cells);
}

const pointsInput = (value) => input(value, { type: "number", min: 0, max: 100000, step: 1, required: true });
const ratingSelect = (value) => select(RATINGS.map((r) => [r, `${r} 级`]), value || "B");

function showLadder(ladder) {
  const person = ladder.person || {};
  const company = ladder.company || {};
  const points = $("rungs-points").tBodies[0];
  const ratings = $("rungs-rating").tBodies[0];
  points.innerHTML = "";
  ratings.innerHTML = "";
  for (const [value, level] of person.points_at_least || []) rungRow(points, pointsInput(value), level);
  for (const [value, level] of company.rating_at_least || []) rungRow(ratings, ratingSelect(value), level);
  for (const [id, value] of [["person-red", person.red_list], ["company-tax", company.tax_grade_a],
    ["company-red", company.red_list]]) {
    fillSelect($(id), levelChoices("不给等级"));
    $(id).value = value ? String(value) : "";
    $(id).disabled = !isWriter();
  }
}

export async function load() {
  $("ladder-errors").innerHTML = "";
  try {
    const data = await client.json("/api/office/ladder");
    tierRows = data.tiers;
    showTiers();
    showLadder(data.ladder);
    $("ladder-status").textContent = "";
  } catch (error) { $("ladder-status").textContent = error.message; }
}

/** What is on screen, in the API's words. */
function collect() {
  const tiers = [...$("tier-table").tBodies[0].rows].map((row) => ({
    level: Number(row.dataset.level),
    code: row.querySelector("[data-field=code]").value.trim(),
    name: row.querySelector("[data-field=name]").value.trim(),
  }));
  const rungs = (tbody, read) => [...tbody.rows].map((row) => {
    const [threshold, level] = row.querySelectorAll("input, select");
    return [read(threshold.value), level.value ? Number(level.value) : null];
  });
  const level = (id) => ($(id).value ? Number($(id).value) : null);
  return {
    tiers,
    ladder: {
      person: { points_at_least: rungs($("rungs-points").tBodies[0], Number), red_list: level("person-red") },
      company: { rating_at_least: rungs($("rungs-rating").tBodies[0], String), tax_grade_a: level("company-tax"),
        red_list: level("company-red") },
    },
  };
}

async function save(event) {
  event.preventDefault();
  $("ladder-errors").innerHTML = "";
  try {
    const saved = await client.json("/api/office/ladder", { method: "PUT", json: collect() });
    forgetTiers();
    tierRows = saved.tiers;
    showTiers();
    showLadder(saved.ladder);
    $("ladder-status").textContent = saved.changes.length
      ? `已保存，${saved.changes.length} 处改动（已记入审计日志），新出示的信用码即按新等级`
      : "与当前设置相同，无改动";
  } catch (problem) {
    $("ladder-status").textContent = "未保存，请修改以下问题：";
    // The city loader's sentences, under the body's field as every validation error is (docs/api.md).
    const errors = problem.problem?.errors?.json?.ladder || [problem.message];
    for (const text of errors) $("ladder-errors").appendChild(Object.assign(document.createElement("li"), { textContent: text }));
  }
}

function addTier() {
  const level = Math.max(0, ...tierRows.map((t) => t.level)) + 1;
  if (level > 15) { $("ladder-status").textContent = "等级最多 15 级"; return; }
  tierRows = [...collect().tiers, { level, code: "", name: "" }];
  const ladder = collect().ladder;
  showTiers();
  showLadder(ladder);
  $("tier-table").tBodies[0].lastElementChild.querySelector("input").focus();
}

/** A tier renamed on screen is named so in the ladder's choices at once (its value, the level, stays). */
function renameChoices() {
  const names = Object.fromEntries(collect().tiers.map((t) => [String(t.level), `${t.level} ${t.name}`]));
  for (const option of document.querySelectorAll("#ladder-form select option")) {
    if (names[option.value]) option.textContent = names[option.value];
  }
}

export function init() {
  $("ladder-form").addEventListener("submit", save);
  $("tier-table").addEventListener("input", renameChoices);
  $("points-add").addEventListener("click", () => rungRow($("rungs-points").tBodies[0], pointsInput(""), ""));
  $("rating-add").addEventListener("click", () => rungRow($("rungs-rating").tBodies[0], ratingSelect("B"), ""));
  $("tier-add").addEventListener("click", addTier);
}
