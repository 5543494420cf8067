"""Read a city's reference data from TOML, check all of it, then apply it idempotently and audited.

The file format is documented by cities/zhaodong.toml and docs/running.md. What the file names is
authoritative; what it does not name stays as it is:
* `[issuer]`: must be this deployment's ISSUER_CODE; its name is updated;
* `[[tiers]]`: upserted by level; `[ladder.person]` / `[ladder.company]` replace that holder kind's
  rungs as a whole (and every subject's tier is computed again when they change);
* `[[areas]]`, `[[scenarios]]`: upserted by code;
* `[[partners]]`: upserted by name; a listed partner's `perks` are its perks (a perk is known by its
  title: a perk the file no longer lists is switched off, never deleted, as redemptions point at it);
* `[[calendars]]`: a (calendar, year) pair replaces every day of that calendar in that year.
Nothing is written unless the whole file is valid; every error names its line, in Chinese.
"""
from __future__ import annotations

import importlib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import delete, extract, select

from ..credit.models import Tier, TierRule
from ..credit.service import RATING_ORDER, recompute_all_tiers
from ..extensions import db
from ..merchants.models import PERK_KINDS, HolidayCalendarDay, Partner, Perk, Scenario
from ..office import audit
from .models import Area

pass_models = importlib.import_module("backend.pass.models")

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

    def __init__(self, text: str):
        self.text = text
        self.errors: list[str] = []

    def line_of(self, header: str, index: int = 0) -> int:
        """The line of the index-th `[[header]]` (or of `[header]`), 1-based; 1 if not found."""
        pattern = re.compile(rf"^[ \t]*\[\[?[ \t]*{re.escape(header)}[ \t]*\]\]?", re.M)
        starts = [self.text.count("\n", 0, match.start()) + 1 for match in pattern.finditer(self.text)]
        return starts[index] if index < len(starts) else 1

    def error(self, line: int, message: str) -> None:
        self.errors.append(f"第 {line} 行：{message}")

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
            check.error(line, f"等级 {table['level']}（{table['code']}）重复")
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


_PARTNER_KEYS = {"name", "scenario", "address", "area", "active", "perks"}
_PERK_KEYS = {"kind", "title", "discount", "max_discount_fen", "holder_kinds", "min_tier", "quota_by_tier",
              "quota_unit", "active_from", "active_until", "blackout_calendar", "limit_per_holder_per_day", "active"}


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
    return result if ok else None


def _calendars(check: _Checker, value) -> list[dict]:
    calendars, seen = [], set()
    for line, table in _tables(check, value, "calendars", "节假日日历"):
        if not check.keys(line, "节假日日历", table, {"name", "year", "holidays"}, {"name", "year", "holidays"}):
            continue
        ok = check.text_field(line, "日历名称 name ", table["name"], max_length=32)
        ok &= check.whole(line, "年份 year ", table["year"], low=2000, high=2100)
        if ok and (table["name"], table["year"]) in seen:
            check.error(line, f"日历“{table['name']}”的 {table['year']} 年重复")
            ok = False
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
            first = holiday["from"]
            if isinstance(first, str):
                try:
                    first = date.fromisoformat(first)
                except ValueError:
                    first = None
            if not isinstance(first, date) or hasattr(first, "hour") or (ok and first.year != table["year"]):
                check.error(line, f"假期“{holiday['name']}”的开始日期须为 {table.get('year')} 年内的日期")
                ok = False
                continue
            if not check.whole(line, f"假期“{holiday['name']}”的天数", holiday["days"], low=1, high=31):
                ok = False
                continue
            for offset in range(holiday["days"]):
                days[first + timedelta(days=offset)] = holiday["name"]
        if ok:
            seen.add((table["name"], table["year"]))
            calendars.append({"name": table["name"], "year": table["year"], "days": days})
    return calendars


# -- applying -------------------------------------------------------------------------------------

def apply(city: CityFile, *, issuer_code: int, actor: str, source: str) -> list[str]:
    """Bring the database in line with the file; returns what changed (empty: nothing did).

    Checks what depends on the database first (codes the file refers to but does not define), and
    writes nothing if any is wrong. The caller commits; the audit entry is in the same transaction.
    """
    problems: list[str] = []
    if city.issuer is not None and city.issuer["code"] != issuer_code:
        problems.append(f"第 {city.issuer['line']} 行：签发机构代码 {city.issuer['code']} 与本系统的设置 "
                        f"ISSUER_CODE={issuer_code} 不一致")
    tier_codes = {tier.code: tier.level for tier in db.session.scalars(select(Tier))}
    tier_codes.update({tier["code"]: tier["level"] for tier in city.tiers or []})
    levels = set(tier_codes.values())
    for kind, rungs in city.ladder.items():
        for _, _, level in rungs:
            if level not in levels:
                problems.append(f"第 {city.ladder_lines[kind]} 行：{KIND_NAMES[kind]}等级阶梯用到了未定义的等级 {level}")
    scenario_codes = set(db.session.scalars(select(Scenario.code))) | {s["code"] for s in city.scenarios or []}
    area_codes = set(db.session.scalars(select(Area.code))) | {a["code"] for a in city.areas or []}
    for area in city.areas or []:
        if area.get("parent") and area["parent"] not in area_codes:
            problems.append(f"第 {area['line']} 行：区域“{area['name']}”的上级区域 {area['parent']} 未定义")
    calendar_names = (set(db.session.scalars(select(HolidayCalendarDay.calendar).distinct()))
                      | {c["name"] for c in city.calendars or []})
    for partner in city.partners or []:
        line = f"第 {partner['line']} 行："
        if partner["scenario"] not in scenario_codes:
            problems.append(f"{line}合作单位“{partner['name']}”的场景 {partner['scenario']} 未定义")
        if partner.get("area") and partner["area"] not in area_codes:
            problems.append(f"{line}合作单位“{partner['name']}”的区域 {partner['area']} 未定义")
        for perk in partner["perks"]:
            if perk.get("min_tier") and perk["min_tier"] not in tier_codes:
                problems.append(f"{line}优惠“{perk['title']}”的最低等级 {perk['min_tier']} 未定义")
            for code in perk.get("quota_by_tier") or {}:
                if code not in tier_codes:
                    problems.append(f"{line}优惠“{perk['title']}”的 quota_by_tier 用到了未定义的等级 {code}")
            if perk.get("blackout_calendar") and perk["blackout_calendar"] not in calendar_names:
                problems.append(f"{line}优惠“{perk['title']}”的暂停日历 {perk['blackout_calendar']} 未定义")
    if problems:
        raise CityFileError(problems)

    changes: list[str] = []
    if city.issuer is not None:
        _apply_issuer(city.issuer, changes)
    for tier in city.tiers or []:
        _upsert(Tier, {"level": tier["level"]}, {"code": tier["code"], "name": tier["name"]},
                f"信用等级 {tier['level']}", changes)
    if city.ladder:
        _apply_ladder(city.ladder, changes)
    for area in city.areas or []:
        _upsert(Area, {"code": area["code"]}, {"name": area["name"], "parent_code": area.get("parent")},
                f"区域“{area['name']}”", changes)
    for scenario in city.scenarios or []:
        _upsert(Scenario, {"code": scenario["code"]}, {"name": scenario["name"]}, f"场景“{scenario['name']}”", changes)
    db.session.flush()
    for partner in city.partners or []:
        _apply_partner(partner, tier_codes, changes)
    for calendar in city.calendars or []:
        _apply_calendar(calendar, changes)
    if changes:
        audit.record(actor=actor, action="city.load", target=f"city:{issuer_code}",
                     detail={"source": source, "changes": changes})
    return changes


def _apply_issuer(issuer: dict, changes: list[str]) -> None:
    row = db.session.get(pass_models.Issuer, issuer["code"])
    if row is None:
        db.session.add(pass_models.Issuer(code=issuer["code"], name=issuer["name"], local=True, trusted=True))
        changes.append(f"新增签发机构 {issuer['code']} {issuer['name']}")
    elif row.name != issuer["name"]:
        changes.append(f"签发机构名称：{row.name} → {issuer['name']}")
        row.name = issuer["name"]


def _upsert(model, key: dict, values: dict, label: str, changes: list[str]):
    """The row with `key`, created or updated to `values`; each difference noted in `changes`."""
    row = db.session.scalar(select(model).filter_by(**key))
    if row is None:
        row = model(**key, **values)
        db.session.add(row)
        changes.append(f"新增{label}")
        return row
    for name, value in values.items():
        if getattr(row, name) != value:
            changes.append(f"{label}的 {name}：{getattr(row, name)!r} → {value!r}")
            setattr(row, name, value)
    return row


def _apply_ladder(ladder: dict, changes: list[str]) -> None:
    """Replace each named holder kind's rungs when they differ, then compute every subject's tier again."""
    changed = False
    for kind, rungs in ladder.items():
        current = list(db.session.scalars(select(TierRule).where(TierRule.holder_kind == kind)))
        if sorted((r.criterion, r.threshold or "", r.tier_level) for r in current) == \
                sorted((criterion, threshold or "", level) for criterion, threshold, level in rungs):
            continue
        for rule in current:
            db.session.delete(rule)
        db.session.add_all(TierRule(holder_kind=kind, criterion=criterion, threshold=threshold, tier_level=level)
                           for criterion, threshold, level in rungs)
        changes.append(f"{KIND_NAMES[kind]}等级阶梯更新为 {rungs}")
        changed = True
    if changed:
        db.session.flush()
        recomputed = recompute_all_tiers()
        if recomputed:
            changes.append(f"按新阶梯重新计算等级：{recomputed} 个主体的等级有变化")


def _apply_partner(partner: dict, tier_codes: dict[str, int], changes: list[str]) -> None:
    scenario = db.session.scalar(select(Scenario).where(Scenario.code == partner["scenario"]))
    area = db.session.scalar(select(Area).where(Area.code == partner["area"])) if partner.get("area") else None
    label = f"合作单位“{partner['name']}”"
    row = _upsert(Partner, {"name": partner["name"]}, {
        "scenario_id": scenario.id, "address": partner.get("address"), "area_id": area.id if area else None,
        "active": partner.get("active", True),
    }, label, changes)
    db.session.flush()
    listed = set()
    for perk in partner["perks"]:
        listed.add(perk["title"])
        quota = perk.get("quota_by_tier")
        _upsert(Perk, {"partner_id": row.id, "title": perk["title"]}, {
            "kind": perk["kind"], "discount_permille": perk.get("discount_permille"),
            "max_discount_fen": perk.get("max_discount_fen"), "holder_kinds": perk["holder_kinds"],
            "min_tier_level": tier_codes[perk["min_tier"]] if perk.get("min_tier") else 1,
            "quota_by_tier": {str(tier_codes[code]): count for code, count in quota.items()} if quota else None,
            "quota_unit": perk.get("quota_unit"), "active_from": perk.get("active_from"),
            "active_until": perk.get("active_until"), "blackout_calendar": perk.get("blackout_calendar"),
            "limit_per_holder_per_day": perk.get("limit_per_holder_per_day"), "active": perk.get("active", True),
        }, f"{label}的优惠“{perk['title']}”", changes)
    for old in db.session.scalars(select(Perk).where(Perk.partner_id == row.id, Perk.active.is_(True))):
        if old.title not in listed:
            old.active = False
            changes.append(f"{label}的优惠“{old.title}”已不在文件中：停用")


def _apply_calendar(calendar: dict, changes: list[str]) -> None:
    name, year = calendar["name"], calendar["year"]
    in_year = (HolidayCalendarDay.calendar == name, extract("year", HolidayCalendarDay.day) == year)
    current = {row.day: row.name for row in db.session.scalars(select(HolidayCalendarDay).where(*in_year))}
    if current == calendar["days"]:
        return
    db.session.execute(delete(HolidayCalendarDay).where(*in_year))
    db.session.add_all(HolidayCalendarDay(calendar=name, day=day, name=holiday)
                       for day, holiday in sorted(calendar["days"].items()))
    changes.append(f"日历“{name}”{year} 年：{len(current)} 天 → {len(calendar['days'])} 天")
