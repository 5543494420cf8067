// The statistics (chart, table, CSV export) and the credit import with its progress bar.
import * as echarts from "/office/vendor/echarts/dist/echarts.esm.min.js";
import { formatYuan } from "../money.js";
import { $, addRow, client, download, rangeError } from "./common.js";

let chart = null;
let shareChart = null;

function query() {
  const params = new URLSearchParams({ group_by: $("group-by").value });
  if ($("from").value) params.set("from", $("from").value);
  if ($("to").value) params.set("to", $("to").value);
  return params;
}

/** "12.5%": a share of a whole, one decimal; of nothing, 0.0%. Integer arithmetic, as the CSV. */
export function share(part, whole) {
  return whole ? `${(Math.floor((part * 1000) / whole) / 10).toFixed(1)}%` : "0.0%";
}

/** A count of beneficiaries as read: "约 N" when the server estimated it (HyperLogLog, within ~2%). */
export function people(count, approximate) {
  if (count === null || count === undefined) return "";
  return approximate ? `约 ${count}` : String(count);
}

function render({ rows, total, beneficiaries_approximate: approximate }, groupBy) {
  $("key-header").textContent = $("group-by").selectedOptions[0].textContent.replace("按", "");
  const body = $("stats-table").tBodies[0];
  body.innerHTML = "";
  const cells = (label, figures) => [label, figures.redemptions, people(figures.beneficiaries, approximate),
    formatYuan(figures.amount_fen), formatYuan(figures.discount_fen), figures.redemptions - figures.offline, figures.offline,
    share(figures.offline, figures.redemptions)];
  for (const row of rows) addRow(body, cells(row.label, row));
  $("stats-table").tFoot.innerHTML = "";
  addRow($("stats-table").tFoot, cells("合计", total));
  $("stats-summary").textContent = rows.length
    ? `共核销 ${total.redemptions} 次，受惠主体 ${people(total.beneficiaries, approximate)} 个；`
      + `线上 ${total.redemptions - total.offline} 次，`
      + `离线 ${total.offline} 次（离线占比 ${share(total.offline, total.redemptions)}）`
    : "所选日期内没有核销记录";
  chart = chart || echarts.init($("chart"));
  const kind = groupBy === "day" ? "line" : "bar";
  const beneficiaries = approximate ? "受惠主体数（约）" : "受惠主体数";
  chart.setOption({
    animation: false, // the figures are there as soon as the table is: nothing to wait for
    // Drawn on the canvas: the HTML tooltip carries style attributes, which the page's policy refuses.
    tooltip: { trigger: "axis", renderMode: "richText" },
    legend: { data: ["核销次数", beneficiaries, "优惠金额（元）"] },
    grid: { left: 48, right: 56, bottom: 64 },
    xAxis: { type: "category", data: rows.map((row) => row.label), axisLabel: { rotate: rows.length > 6 ? 30 : 0 } },
    // The money axis is in fen (integers, minInterval 1) and only labelled in yuan.
    yAxis: [{ type: "value", name: "次数/个", minInterval: 1 },
      { type: "value", name: "元", minInterval: 1, axisLabel: { formatter: formatYuan } }],
    series: [
      { name: "核销次数", type: kind, data: rows.map((row) => row.redemptions), itemStyle: { color: "#c7000b" } },
      { name: beneficiaries, type: kind, data: rows.map((row) => row.beneficiaries), itemStyle: { color: "#3370ff" } },
      { name: "优惠金额（元）", type: kind, yAxisIndex: 1, data: rows.map((row) => row.discount_fen),
        tooltip: { valueFormatter: formatYuan }, itemStyle: { color: "#f5a623" } },
    ],
  }, true);
  shareChart = shareChart || echarts.init($("share-chart"));
  const parts = { 线上核销: total.redemptions - total.offline, 离线核销: total.offline };
  shareChart.setOption({
    animation: false,
    title: { text: "线上与离线核销", left: "center", textStyle: { fontSize: 14 } },
    tooltip: { trigger: "item", renderMode: "richText" },
    // The counts and shares in the legend: labels around a small ring would be cut at this width.
    legend: { bottom: 0, orient: "vertical",
      formatter: (name) => `${name} ${parts[name]} 次（${share(parts[name], total.redemptions)}）` },
    series: [{ type: "pie", radius: ["38%", "62%"], center: ["50%", "45%"], label: { show: false },
      data: [{ name: "线上核销", value: parts.线上核销, itemStyle: { color: "#c7000b" } },
        { name: "离线核销", value: parts.离线核销, itemStyle: { color: "#8f959e" } }] }],
  }, true);
  $("chart").dataset.rows = String(rows.length); // drawn: what a reader (or a test) can wait for
}

/** The dates' refusal shown, or "" when they may be sent. */
function checkDates() {
  const message = rangeError($("from").value, $("to").value);
  $("stats-error").textContent = message;
  return !message;
}

export async function loadStats(event) {
  if (event) event.preventDefault();
  if (!checkDates()) return;
  try {
    const groupBy = $("group-by").value;
    const params = query();
    params.set("beneficiaries", "true");
    render(await client.json(`/api/office/stats?${params}`), groupBy);
    $("stats-error").textContent = "";
  } catch (error) { $("stats-error").textContent = error.message; }
}

async function exportCsv() {
  if (!checkDates()) return;
  try {
    await download(`/api/office/stats.csv?${query()}`, `核销统计-${$("group-by").selectedOptions[0].textContent}.csv`);
  } catch (error) { $("stats-error").textContent = error.message; }
}

/** The import template (Chinese headers), fetched with the clerk's token and saved under its Chinese name. */
async function downloadTemplate(format) {
  try {
    const blob = await (await client.request(`/api/credit/imports/template?format=${format}`)).blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `信用数据导入模板.${format}`;
    link.click();
    URL.revokeObjectURL(link.href);
  } catch (error) { $("import-status").textContent = error.message; }
}

async function startImport() {
  const file = $("import-file").files[0];
  if (!file) { $("import-status").textContent = "请先选择文件"; return; }
  const form = new FormData();
  form.append("file", file);
  try {
    let job = await client.json("/api/credit/imports", { method: "POST", body: form });
    $("import-progress").hidden = false;
    $("import-errors").innerHTML = "";
    while (job.status === "pending" || job.status === "running") {
      showProgress(job);
      await new Promise((resolve) => setTimeout(resolve, 500));
      job = await client.json(`/api/credit/imports/${job.id}`);
    }
    showProgress(job);
    for (const line of job.errors) {
      const item = document.createElement("li");
      item.textContent = line;
      $("import-errors").appendChild(item);
    }
  } catch (error) { $("import-status").textContent = error.message; }
}

function showProgress(job) {
  $("import-progress").value = job.percent;
  const state = { pending: "排队中", running: "导入中", done: "已完成", failed: "失败" }[job.status];
  $("import-status").textContent =
    `${state}：${job.processed_rows} / ${job.total_rows ?? "?"} 行（${job.percent}%），拒绝 ${job.rejected_rows} 行`;
}

/** The chart measures its box when drawn: a tab shown after a resize draws it again. */
export function resizeChart() {
  if (chart) chart.resize();
  if (shareChart) shareChart.resize();
}

export function init() {
  $("filters").addEventListener("submit", loadStats);
  $("export").addEventListener("click", exportCsv);
  $("import-start").addEventListener("click", startImport);
  $("import-file").addEventListener("change", () => {
    $("import-file-name").textContent = $("import-file").files[0]?.name ?? "未选择文件";
  });
  $("template-xlsx").addEventListener("click", () => downloadTemplate("xlsx"));
  $("template-csv").addEventListener("click", () => downloadTemplate("csv"));
  window.addEventListener("resize", resizeChart);
}
