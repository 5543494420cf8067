"""Apply a checked city file (backend/city/loader.py) to the database: idempotent, audited, all or nothing.

What the file names is authoritative; what it does not name stays as it is (docs/running.md).
"""
from __future__ import annotations

import importlib

from sqlalchemy import delete, extract, select

from ..credit.models import Tier, TierRule
from ..credit.service import recompute_all_tiers
from ..extensions import db
from ..merchants import catalog
from ..merchants.models import HolidayCalendarDay, Partner, Perk, Scenario
from .. import audit
from .loader import KIND_NAMES, CityFile, CityFileError
from .models import Area

pass_models = importlib.import_module("backend.pass.models")



def apply(city: CityFile, *, issuer_code: int, actor: str, source: str, action: str = "city.load") -> list[str]:
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
                where = f"第 {city.ladder_lines[kind]} 行：" if city.ladder_lines.get(kind) else ""
                problems.append(f"{where}{KIND_NAMES[kind]}等级阶梯用到了未定义的等级 {level}")
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
        _apply_calendar(calendar, changes, actor=actor)
    if changes:
        audit.record(actor=actor, action=action, target=f"city:{issuer_code}",
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
    values = {"scenario_id": scenario.id, "address": partner.get("address"), "area_id": area.id if area else None,
              "hours": partner.get("hours")}
    # A partner the office took off (an exit with its date and reason, kept for 公示) stays off when the
    # same file is loaded again for another part, say next year's holidays: only `active = true`
    # written in the file brings it back.
    existing = db.session.scalar(select(Partner).where(Partner.name == partner["name"]))
    if "active" in partner or existing is None or existing.left_on is None:
        values["active"] = partner.get("active", True)
    row = _upsert(Partner, {"name": partner["name"]}, values, label, changes)
    if row.active and row.left_on is not None:
        changes.append(f"{label}恢复合作（{row.left_on.isoformat()} 的退出记录清除）")
        row.left_on = row.exit_reason = None
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
            "time_windows": perk.get("time_windows"),
        }, f"{label}的优惠“{perk['title']}”", changes)
    for old in db.session.scalars(select(Perk).where(Perk.partner_id == row.id, Perk.active.is_(True))):
        if old.title not in listed:
            old.active = False
            changes.append(f"{label}的优惠“{old.title}”已不在文件中：停用")


def _apply_calendar(calendar: dict, changes: list[str], *, actor: str) -> None:
    """The calendar's days of that year become the file's (its holidays and its make-up working days),
    and so does what the year rests on: the file's `basis`, or none (预排)."""
    name, year = calendar["name"], calendar["year"]
    catalog.set_calendar_basis(calendar=name, year=year, basis=calendar["basis"], changes=changes)
    in_year = (HolidayCalendarDay.calendar == name, extract("year", HolidayCalendarDay.day) == year)
    current = {row.day: (row.kind, row.name) for row in db.session.scalars(select(HolidayCalendarDay).where(*in_year))}
    wanted = {**{day: ("holiday", holiday) for day, holiday in calendar["days"].items()},
              **{day: ("workday", holiday) for day, holiday in calendar["workdays"].items()}}
    if current == wanted:
        return
    db.session.execute(delete(HolidayCalendarDay).where(*in_year))
    db.session.add_all(HolidayCalendarDay(calendar=name, day=day, kind=kind, name=holiday)
                       for day, (kind, holiday) in sorted(wanted.items()))
    db.session.flush()
    kinds = [{day: kind for day, (kind, _) in days.items()} for days in (current, wanted)]
    catalog.calendar_days_changed.send(name, actor=actor, days=frozenset(
        day for day in kinds[0].keys() | kinds[1].keys() if kinds[0].get(day) != kinds[1].get(day)))

    def counted(days: dict) -> str:
        kinds = [kind for kind, _ in days.values()]
        return f"放假 {kinds.count('holiday')} 天、调休上班 {kinds.count('workday')} 天"

    changes.append(f"日历“{name}”{year} 年：{counted(current)} → {counted(wanted)}")
