// Scenarios and holiday calendars: holidays (perks naming the calendar pause; due dates skip them)
// and make-up working days (调休上班, weekend days that due dates count); each change audited by the API.
import { $, addRow, button, CALENDAR_DAY_KINDS, calendarAttention, calendarName, client, fillSelect, isWriter, partners }
  from "./common.js";

async function loadScenarios() {
  const { scenarios } = await client.json("/api/office/scenarios");
  const body = $("scenario-table").tBodies[0];
  body.innerHTML = "";
  for (const scenario of scenarios) addRow(body, [scenario.code, scenario.name]);
}

async function addScenario(event) {
  event.preventDefault();
  try {
    const scenario = await client.json("/api/office/scenarios", { method: "POST", json: {
      code: $("scenario-code").value.trim(), name: $("scenario-name").value.trim() } });
    $("scenario-status").textContent = `已新增场景：${scenario.name}`;
    $("scenario-form").reset();
    await loadScenarios();
  } catch (error) { $("scenario-status").textContent = error.message; }
}

/** The calendars perks name, and the one every city has; a new one is typed in. */
async function loadCalendarChoices() {
  const names = new Set(["major_holidays"]);
  for (const partner of await partners()) {
    for (const perk of partner.perks) if (perk.blackout_calendar) names.add(perk.blackout_calendar);
  }
  const current = $("calendar-name").value;
  fillSelect($("calendar-name"), [...names].map((name) => [name, calendarName(name)]));
  if (current && names.has(current)) $("calendar-name").value = current;
}

const shownCalendar = () => $("calendar-table").dataset.calendar || $("calendar-name").value;

const WEEKDAYS = "日一二三四五六";
/** "2026-10-10（周六）": a make-up working day must be a weekend day, so the clerk sees which it is. */
const withWeekday = (day) => `${day}（周${WEEKDAYS[new Date(`${day}T00:00:00Z`).getUTCDay()]}）`;

/** Each year's counts and what it rests on: the notice it was checked against, or 预排. */
function showYears(years, attention) {
  const body = $("calendar-years").tBodies[0];
  body.innerHTML = "";
  for (const year of years) {
    const row = addRow(body, [`${year.year} 年`, `${year.holidays} 天`, `${year.workdays} 天`,
      year.basis || "预排（尚未按通知核对）"]);
    row.classList.toggle("provisional", !year.basis);
  }
  if (!years.length) addRow(body, ["", "", "", "还没有任何年份"]);
  const text = calendarAttention(attention);
  $("calendar-attention").hidden = !text;
  $("calendar-attention").textContent = text
    ? `${text}。通知发布后请逐日核对${isWriter() ? "，再在下方确认依据" : ""}。` : "";
  const first = attention.find((entry) => entry.state === "provisional");
  if (first && !$("calendar-year").value) $("calendar-year").value = first.year;
}

async function showCalendar(name) {
  const { days, years, attention } = await client.json(`/api/office/calendars/${encodeURIComponent(name)}`);
  showYears(years, attention);
  $("calendar-table").dataset.calendar = name;
  const body = $("calendar-table").tBodies[0];
  body.innerHTML = "";
  for (const day of days) {
    const row = addRow(body, [withWeekday(day.day), CALENDAR_DAY_KINDS[day.kind] || day.kind, day.name,
      isWriter() ? button("删除", () => removeDay(name, day), "danger") : ""]);
    row.classList.toggle("workday", day.kind === "workday");
  }
  if (!days.length) addRow(body, ["", "", `${calendarName(name)}中还没有日期`, ""]);
  const workdays = days.filter((day) => day.kind === "workday").length;
  $("calendar-status").textContent =
    `${calendarName(name)}：放假 ${days.length - workdays} 天，调休上班 ${workdays} 天`;
}

async function pick(event) {
  event.preventDefault();
  const name = $("calendar-new").value.trim() || $("calendar-name").value;
  try { await showCalendar(name); } catch (error) { $("calendar-status").textContent = error.message; }
}

async function addDay(event) {
  event.preventDefault();
  const name = shownCalendar();
  try {
    await client.json(`/api/office/calendars/${encodeURIComponent(name)}/days`, { method: "POST", json: {
      day: $("calendar-day").value, kind: $("calendar-day-kind").value, name: $("calendar-day-name").value.trim(),
      days: Number($("calendar-days").value) } });
    $("calendar-form").reset();
    onlyOneWorkday();
    await showCalendar(name);
    $("calendar-status").textContent += "（已增加）";
  } catch (error) { $("calendar-status").textContent = error.message; }
}

async function confirmYear(event) {
  event.preventDefault();
  const name = shownCalendar();
  const year = $("calendar-year").value;
  try {
    await client.json(`/api/office/calendars/${encodeURIComponent(name)}/years/${encodeURIComponent(year)}`,
      { method: "PUT", json: { basis: $("calendar-basis").value.trim() } });
    $("calendar-year-form").reset();
    await showCalendar(name);
    $("calendar-status").textContent += `（已确认 ${year} 年的依据）`;
  } catch (error) { $("calendar-status").textContent = error.message; }
}

/** A make-up working day is one Saturday or Sunday: a run of days is for holidays only. */
function onlyOneWorkday() {
  const workday = $("calendar-day-kind").value === "workday";
  if (workday) $("calendar-days").value = 1;
  $("calendar-days").disabled = workday;
}

async function removeDay(name, day) {
  try {
    await client.request(`/api/office/calendars/${encodeURIComponent(name)}/days/${day.day}`, { method: "DELETE" });
    await showCalendar(name);
    $("calendar-status").textContent += `（已删除 ${day.day} ${CALENDAR_DAY_KINDS[day.kind] || ""} ${day.name}）`;
  } catch (error) { $("calendar-status").textContent = error.message; }
}

export async function load() {
  try {
    await Promise.all([loadScenarios(), loadCalendarChoices()]);
    await showCalendar(shownCalendar());
  } catch (error) { $("calendar-status").textContent = error.message; }
}

export function init() {
  $("scenario-form").addEventListener("submit", addScenario);
  $("calendar-pick").addEventListener("submit", pick);
  $("calendar-form").addEventListener("submit", addDay);
  $("calendar-year-form").addEventListener("submit", confirmYear);
  $("calendar-day-kind").addEventListener("change", onlyOneWorkday);
}
