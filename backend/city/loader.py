"""Read a city's reference data from TOML and check all of it (backend/city/apply.py applies it).

The file format is documented by cities/zhaodong.toml and docs/running.md. What the file names is
authoritative; what it does not name stays as it is:
* `[issuer]`: must be this deployment's ISSUER_CODE; its name is updated;
* `[[tiers]]`: upserted by level; `[ladder.person]` / `[ladder.company]` replace that holder kind's
  rungs as a whole (and every subject's tier is computed again when they change);
* `[[areas]]`, `[[scenarios]]`: upserted by code;
* `[[partners]]`: upserted by name; a listed partner's `perks` are its perks (a perk is known by its
  title: a perk the file no longer lists is switched off, never deleted, as redemptions point at it);
  a partner the office took off (an exit) stays off unless the file writes `active = true` for it;
* `[[calendars]]`: a (calendar, year) pair replaces every day of that calendar in that year: its
  `holidays` and its `makeup_workdays` (调休上班, weekend days worked in exchange); its `basis` names
  the notice they were checked against, and a year without one is provisional (预排).
Nothing is written unless the whole file is valid; every error names its line, in Chinese.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..credit.service import RATING_ORDER
from ..merchants.models import PERK_KINDS, not_a_makeup_day
from ..merchants.perk_rules import WindowError, parse_windows

HOLDER_KINDS = ("person", "company")
KIND_NAMES = {"person": "个人", "company": "企业"}


class CityFileError(ValueError):
    """The file cannot be applied; `errors` are line-numbered Chinese sentences."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class CityFile:
    """A parsed file: plain values, each section None when the file does not have it."""

    issuer: dict | None = None
    tiers: list[dict] | None = None
    ladder: dict[str, list[tuple[str, str | None, int]]] = field(default_factory=dict)
    ladder_lines: dict[str, int] = field(default_factory=dict)
    areas: list[dict] | None = None
    scenarios: list[dict] | None = None
    partners: list[dict] | None = None
    calendars: list[dict] | None = None


# -- reading and checking -------------------------------------------------------------------------

class _Checker:
    """Collects every error of a file with the line of the table it is in."""

    def __init__(self, text: str, *, numbered: bool = True):
        self.text, self.numbered = text, numbered  # the office's screen has no lines to name
        self.errors: list[str] = []

    def line_of(self, header: str, index: int = 0) -> int:
        """The line of the index-th `[[header]]` (or of `[header]`), 1-based; 1 if not found."""
        pattern = re.compile(rf"^[ \t]*\[\[?[ \t]*{re.escape(header)}[ \t]*\]\]?", re.M)
        starts = [self.text.count("\n", 0, match.start()) + 1 for match in pattern.finditer(self.text)]
        return starts[index] if index < len(starts) else 1

    def error(self, line: int, message: str) -> None:
        self.errors.append(f"第 {line} 行：{message}" if self.numbered else message)

    def keys(self, line: int, where: str, table: dict, allowed: set[str], required: set[str]) -> bool:
        ok = True
        for key in sorted(set(table) - allowed):
            self.error(line, f"{where}中有不认识的字段“{key}”")
            ok = False
        for key in sorted(required - set(table)):
            self.error(line, f"{where}缺少字段“{key}”")
            ok = False
        return ok

    def text_field(self, line: int, where: str, value, *, max_length: int) -> bool:
        if not isinstance(value, str) or not value.strip() or len(value) > max_length:
            self.error(line, f"{where}须为不超过 {max_length} 个字的文字")
            return False
        return True

    def whole(self, line: int, where: str, value, *, low: int, high: int) -> bool:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.error(line, f"{where}须为 {low} 到 {high} 之间的整数")
            return False
        return True


def parse(text: str) -> CityFile:
    """Check a city file without touching the database; raises CityFileError with every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"line (\d+), column (\d+)", str(error))
        where = f"第 {found.group(1)} 行第 {found.group(2)} 列" if found else "文件"
        raise CityFileError([f"{where}：TOML 格式错误（{error}）"]) from None
    check = _Checker(text)
    known = {"issuer", "tiers", "ladder", "areas", "scenarios", "partners", "calendars"}
    for key in sorted(set(data) - known):
        check.error(check.line_of(key), f"不认识的部分“{key}”")
    city = CityFile()
    if "issuer" in data:
        city.issuer = _issuer(check, data["issuer"])
    if "tiers" in data:
        city.tiers = _tiers(check, data["tiers"])
    if "ladder" in data:
        city.ladder = _ladder(check, data["ladder"], city.ladder_lines)
    if "areas" in data:
        city.areas = _coded(check, data["areas"], "areas", "区域", extra={"parent"})
    if "scenarios" in data:
        city.scenarios = _coded(check, data["scenarios"], "scenarios", "场景")
    if "partners" in data:
        city.partners = _partners(check, data["partners"], city)
    if "calendars" in data:
        city.calendars = _calendars(check, data["calendars"])
    if check.errors:
        raise CityFileError(check.errors)
    return city


def check_ladder(*, tiers: list, ladder: dict) -> CityFile:
    """The office's edit of the tier names and ladder, checked by the same rules as a city file's
    `[[tiers]]` and `[ladder.*]` (same shapes: `ladder = {"person": {"points_at_least": [[1050, 1]],
    "red_list": 4}, "company": {...}}`); raises CityFileError with plain Chinese sentences."""
    check = _Checker("", numbered=False)
    city = CityFile(tiers=_tiers(check, tiers), ladder=_ladder(check, ladder, {}))
    city.ladder_lines = {kind: 0 for kind in city.ladder}
    if check.errors:
        raise CityFileError(check.errors)
    return city


def ladder_of(rules) -> dict:
    """TierRule rows in the file's words again (the inverse of `_ladder`): what the office's screen edits."""
    ladder: dict[str, dict] = {kind: {} for kind in HOLDER_KINDS}
    for rule in sorted(rules, key=lambda r: (r.tier_level, r.criterion, r.threshold or "")):
        table = ladder[rule.holder_kind]
        if rule.criterion == "score_at_least":
            table.setdefault("points_at_least", []).append([int(rule.threshold), rule.tier_level])
        elif rule.criterion == "rating_in":  # "AA,AAA": the worst rating of the set is its threshold
            worst = max(rule.threshold.split(","), key=RATING_ORDER.index)
            table.setdefault("rating_at_least", []).append([worst, rule.tier_level])
        elif rule.criterion == "tax_grade_in":
            table["tax_grade_a"] = rule.tier_level
        elif rule.criterion == "red_list":
            table["red_list"] = rule.tier_level
    return ladder


def _issuer(check: _Checker, table) -> dict | None:
    line = check.line_of("issuer")
    if not isinstance(table, dict) or not check.keys(line, "[issuer] ", table, {"code", "name"}, {"code", "name"}):
        return None
    ok = check.whole(line, "签发机构代码 code ", table["code"], low=100000, high=999999)
    ok &= check.text_field(line, "签发机构名称 name ", table["name"], max_length=128)
    return {**table, "line": line} if ok else None


def _tables(check: _Checker, value, header: str, label: str) -> list[tuple[int, dict]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        check.error(check.line_of(header), f"{label}须写成 [[{header}]] 表")
        return []
    return [(check.line_of(header, index), item) for index, item in enumerate(value)]


def _tiers(check: _Checker, value) -> list[dict]:
    tiers, levels, codes = [], set(), set()
    for line, table in _tables(check, value, "tiers", "信用等级"):
        if not check.keys(line, "信用等级", table, {"level", "code", "name"}, {"level", "code", "name"}):
            continue
        ok = check.whole(line, "等级 level ", table["level"], low=1, high=15)
        ok &= check.text_field(line, "等级代码 code ", table["code"], max_length=32)
        ok &= check.text_field(line, "等级名称 name ", table["name"], max_length=64)
        if ok and (table["level"] in levels or table["code"] in codes):
            check.error(line, f"等级 {table['level']}（代码 {table['code']}）与另一等级重复：每个等级的级别和代码都须不同")
            ok = False
        if ok:
            levels.add(table["level"])
            codes.add(table["code"])
            tiers.append(dict(table))
    return tiers


_LADDER_KEYS = {
    "person": {"points_at_least", "red_list"},
    "company": {"rating_at_least", "tax_grade_a", "red_list"},
}


def _ladder(check: _Checker, value, ladder_lines: dict[str, int]) -> dict:
    """{holder kind: [(criterion, threshold, level)]} in TierRule's terms; fills `ladder_lines`."""
    ladder = {}
    if not isinstance(value, dict):
        check.error(check.line_of("ladder"), "等级阶梯须写成 [ladder.person] / [ladder.company]")
        return ladder
    for kind in sorted(set(value) - set(HOLDER_KINDS)):
        check.error(check.line_of(f"ladder.{kind}"), f"等级阶梯的主体类型只能是 person（个人）或 company（企业），不是“{kind}”")
    for kind in HOLDER_KINDS:
        if kind not in value:
            continue
        line, table, rungs = check.line_of(f"ladder.{kind}"), value[kind], []
        where = f"{KIND_NAMES[kind]}等级阶梯"
        if not isinstance(table, dict) or not check.keys(line, where, table, _LADDER_KEYS[kind], set()):
            continue
        for points, level in _pairs(check, line, where, table.get("points_at_least", [])):
            if check.whole(line, f"{where}的积分下限", points, low=0, high=100000):
                rungs.append(("score_at_least", str(points), level))
        ratings = _pairs(check, line, where, table.get("rating_at_least", []))
        for rating, _ in ratings:
            if rating not in RATING_ORDER:
                check.error(line, f"{where}的信易评价“{rating}”不是 {'/'.join(RATING_ORDER)} 之一")
        if all(rating in RATING_ORDER for rating, _ in ratings):
            rungs.extend(("rating_in", threshold, level) for threshold, level in _rating_sets(ratings))
        if "tax_grade_a" in table:
            rungs.append(("tax_grade_in", "A", table["tax_grade_a"]))
        if "red_list" in table:
            rungs.append(("red_list", None, table["red_list"]))
        for _, _, level in rungs:
            check.whole(line, f"{where}的等级", level, low=1, high=15)
        ladder[kind] = rungs
        ladder_lines[kind] = line
    return ladder


def _rating_sets(ratings: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """"Rating R or better gives level L" as TierRule's sets of ratings, each without the ratings that
    a better rung of at least the same level already gives (so B/A/AA at 1/2/3 become "B", "A",
    "AA,AAA"): a subject's tier, the highest level of the rungs it meets, is the same either way."""
    def at_or_above(rating: str) -> list[str]:
        return list(reversed(RATING_ORDER[:RATING_ORDER.index(rating) + 1]))  # worst first: "AA,AAA"

    sets = []
    for rating, level in ratings:
        covered = {better for other, other_level in ratings if other_level >= level and other != rating
                   and RATING_ORDER.index(other) < RATING_ORDER.index(rating) for better in at_or_above(other)}
        sets.append((",".join(r for r in at_or_above(rating) if r not in covered), level))
    return sets


def _pairs(check: _Checker, line: int, where: str, value) -> list[tuple]:
    if not isinstance(value, list) or not all(isinstance(pair, list) and len(pair) == 2 for pair in value):
        check.error(line, f"{where}须写成 [[下限, 等级], ...]")
        return []
    return [tuple(pair) for pair in value]


def _coded(check: _Checker, value, header: str, label: str, extra: frozenset | set = frozenset()) -> list[dict]:
    rows, codes = [], set()
    for line, table in _tables(check, value, header, label):
        if not check.keys(line, label, table, {"code", "name", *extra}, {"code", "name"}):
            continue
        ok = check.text_field(line, f"{label}代码 code ", table["code"], max_length=32)
        ok &= check.text_field(line, f"{label}名称 name ", table["name"], max_length=64)
        if ok and table["code"] in codes:
            check.error(line, f"{label}代码“{table['code']}”重复")
            ok = False
        if ok:
            codes.add(table["code"])
            rows.append({**table, "line": line})
    return rows


_PARTNER_KEYS = {"name", "scenario", "address", "hours", "area", "active", "perks"}
_PERK_KEYS = {"kind", "title", "discount", "max_discount_fen", "holder_kinds", "min_tier", "quota_by_tier",
              "quota_unit", "active_from", "active_until", "blackout_calendar", "limit_per_holder_per_day",
              "time_windows", "active"}


def _partners(check: _Checker, value, city: CityFile) -> list[dict]:
    partners, names = [], set()
    for line, table in _tables(check, value, "partners", "合作单位"):
        if not check.keys(line, "合作单位", table, _PARTNER_KEYS, {"name", "scenario"}):
            continue
        ok = check.text_field(line, "合作单位名称 name ", table["name"], max_length=128)
        ok &= check.text_field(line, "场景 scenario ", table["scenario"], max_length=32)
        if "address" in table:
            ok &= check.text_field(line, "地址 address ", table["address"], max_length=256)
        if "area" in table:
            ok &= check.text_field(line, "区域 area ", table["area"], max_length=32)
        if "hours" in table:
            ok &= check.text_field(line, "营业时间 hours ", table["hours"], max_length=128)
        if not isinstance(table.get("active", True), bool):
            check.error(line, "active 须为 true 或 false")
            ok = False
        if ok and table["name"] in names:
            check.error(line, f"合作单位“{table['name']}”重复")
            ok = False
        perks = [_perk(check, line, table["name"] if ok else "", perk) for perk in _perk_list(check, line, table)]
        titles = [perk["title"] for perk in perks if perk]
        if len(titles) != len(set(titles)):
            check.error(line, "同一合作单位的优惠名称 title 不能重复")
            ok = False
        if ok and all(perks):
            names.add(table["name"])
            partners.append({**table, "perks": perks, "line": line})
    return partners


def _perk_list(check: _Checker, line: int, table: dict) -> list:
    perks = table.get("perks", [])
    if not isinstance(perks, list) or not all(isinstance(perk, dict) for perk in perks):
        check.error(line, "perks 须写成 [{ kind = ..., title = ... }, ...]")
        return []
    return perks


def _perk(check: _Checker, line: int, partner: str, perk: dict) -> dict | None:
    where = f"“{partner}”的优惠"
    if not check.keys(line, where, perk, _PERK_KEYS, {"kind", "title"}):
        return None
    ok = check.text_field(line, f"{where}名称 title ", perk["title"], max_length=128)
    where = f"“{partner}”的优惠“{perk['title']}”"
    if perk["kind"] not in PERK_KINDS:
        check.error(line, f"{where}的种类 kind 须为 {'/'.join(PERK_KINDS)} 之一")
        ok = False
    result = {key: value for key, value in perk.items() if key not in ("discount", "holder_kinds")}
    if perk["kind"] == "discount":
        discount = perk.get("discount")
        # Entered as 折 (9.8 = pay 98%), kept as permille; more than two decimals would be a typo.
        if (isinstance(discount, bool) or not isinstance(discount, (int, float)) or not 0 < discount < 10
                or abs(discount * 100 - round(discount * 100)) > 1e-9):
            check.error(line, f"{where}须填写折扣 discount（如 9.8 表示九八折，0 到 10 之间，至多两位小数）")
            ok = False
        else:
            result["discount_permille"] = round(discount * 100)
    elif "discount" in perk:
        check.error(line, f"{where}不是折扣类优惠，不能填写 discount")
        ok = False
    kinds = perk.get("holder_kinds", list(HOLDER_KINDS))
    if not isinstance(kinds, list) or not kinds or not set(kinds) <= set(HOLDER_KINDS):
        check.error(line, f"{where}的适用主体 holder_kinds 须为 [\"person\"]、[\"company\"] 或两者")
        ok = False
    else:
        result["holder_kinds"] = ",".join(kind for kind in HOLDER_KINDS if kind in kinds)
    for name in ("max_discount_fen", "limit_per_holder_per_day"):
        if name in perk:
            ok &= check.whole(line, f"{where}的 {name} ", perk[name], low=1, high=10**9)
    for name in ("active_from", "active_until"):
        if name in perk and (not isinstance(perk[name], date) or hasattr(perk[name], "hour")):
            check.error(line, f"{where}的 {name} 须为日期，如 2026-01-01")
            ok = False
    if "quota_by_tier" in perk and (not isinstance(perk["quota_by_tier"], dict) or not all(
            isinstance(q, int) and not isinstance(q, bool) and q > 0 for q in perk["quota_by_tier"].values())):
        check.error(line, f"{where}的 quota_by_tier 须写成 {{ 等级代码 = 数量, ... }}")
        ok = False
    if not isinstance(perk.get("active", True), bool):
        check.error(line, f"{where}的 active 须为 true 或 false")
        ok = False
    try:
        result["time_windows"] = parse_windows(perk.get("time_windows"))
    except WindowError as error:
        check.error(line, f"{where}的 time_windows：{error}")
        ok = False
    return result if ok else None


def _day_in(value, year: int | None) -> date | None:
    """A TOML date (or "YYYY-MM-DD") within `year` (any year while the table's own year is wrong), else None."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, date) or hasattr(value, "hour") or (year is not None and value.year != year):
        return None
    return value


def _calendars(check: _Checker, value) -> list[dict]:
    calendars, seen = [], set()
    for line, table in _tables(check, value, "calendars", "节假日日历"):
        if not check.keys(line, "节假日日历", table, {"name", "year", "basis", "holidays", "makeup_workdays"},
                          {"name", "year", "holidays"}):
            continue
        ok = check.text_field(line, "日历名称 name ", table["name"], max_length=32)
        if "basis" in table:  # the notice the days were checked against; without it the year is 预排
            ok &= check.text_field(line, "依据 basis ", table["basis"], max_length=200)
        ok &= check.whole(line, "年份 year ", table["year"], low=2000, high=2100)
        if ok and (table["name"], table["year"]) in seen:
            check.error(line, f"日历“{table['name']}”的 {table['year']} 年重复")
            ok = False
        year = table["year"] if ok else None
        days: dict[date, str] = {}
        holidays = table["holidays"] if isinstance(table["holidays"], list) else None
        if holidays is None:
            check.error(line, "holidays 须写成 [{ from = 2026-01-01, days = 3, name = \"元旦\" }, ...]")
            ok = False
        for holiday in holidays or []:
            if not isinstance(holiday, dict) or set(holiday) != {"from", "days", "name"}:
                check.error(line, "每个假期须有且只有 from、days、name 三项")
                ok = False
                continue
            first = _day_in(holiday["from"], year)
            if first is None:
                check.error(line, f"假期“{holiday['name']}”的开始日期须为 {table.get('year')} 年内的日期")
                ok = False
                continue
            if not check.whole(line, f"假期“{holiday['name']}”的天数", holiday["days"], low=1, high=31):
                ok = False
                continue
            for offset in range(holiday["days"]):
                days[first + timedelta(days=offset)] = holiday["name"]
        workdays = _makeup_workdays(check, line, table.get("makeup_workdays", []), year, days)
        if ok and workdays is not None:
            seen.add((table["name"], table["year"]))
            calendars.append({"name": table["name"], "year": table["year"], "basis": table.get("basis"),
                              "days": days, "workdays": workdays})
    return calendars


def _makeup_workdays(check: _Checker, line: int, value, year: int | None, holidays: dict[date, str]) -> dict | None:
    """`makeup_workdays = [{ day = 2026-01-04, name = "元旦" }, ...]`: the weekend days the notice makes
    working days (调休上班), each named for the holiday it pays for; None if any is wrong."""
    if not isinstance(value, list):
        check.error(line, "makeup_workdays 须写成 [{ day = 2026-01-04, name = \"元旦\" }, ...]")
        return None
    workdays: dict[date, str] = {}
    ok = True
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"day", "name"}:
            check.error(line, "每个调休上班日须有且只有 day、name 两项")
            ok = False
            continue
        if not check.text_field(line, "调休上班日的名称 name ", entry["name"], max_length=64):
            ok = False
            continue
        day = _day_in(entry["day"], year)
        if day is None:
            check.error(line, f"调休上班日“{entry['name']}”的日期须为{f' {year} ' if year else '该'}年内的日期")
            ok = False
        elif why := not_a_makeup_day(day):
            check.error(line, f"调休上班日 {day.isoformat()}（{entry['name']}）{why}")
            ok = False
        elif day in holidays:
            check.error(line, f"{day.isoformat()} 既是假期“{holidays[day]}”又是调休上班日")
            ok = False
        elif day in workdays:
            check.error(line, f"调休上班日 {day.isoformat()} 重复")
            ok = False
        else:
            workdays[day] = entry["name"]
    return workdays if ok else None
