"""The office's catalogue of partners and perks: signing up partners and writing perk rules as data.

Every change is validated here (so that a rule the redemption service cannot apply is never
stored), audited in the same transaction, and visible at once in the public directory.
"""
from __future__ import annotations

from datetime import date, timedelta

from blinker import Namespace
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..credit.models import Tier
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db
from .. import audit
from ..timeutil import local_day
from .models import PERK_KINDS, HolidayCalendarDay, HolidayCalendarYear, Partner, Perk, Scenario, not_a_makeup_day
from .perk_rules import WindowError, parse_windows

HOLDER_KINDS = ("person", "company")
PERK_FIELDS = ("kind", "title", "discount_permille", "max_discount_fen", "holder_kinds", "min_tier",
               "quota_by_tier", "quota_unit", "active_from", "active_until", "blackout_calendar",
               "limit_per_holder_per_day", "time_windows", "active")
PARTNER_FIELDS = ("name", "scenario_code", "address", "hours", "area_id", "active")


# Sent inside the transaction that changes a calendar's days, with the days whose kind changed (added,
# removed, or holiday <-> make-up working day) and who changed them: what counts on those days
# (objections' due dates, recourse/due.py) follows in the same commit. A signal, because merchants sits
# below recourse in the layers (.importlinter) and may not call it.
calendar_days_changed = Namespace().signal("calendar-days-changed")


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, field=field)


def _tiers_by_code() -> dict[str, int]:
    return {tier.code: tier.level for tier in db.session.scalars(select(Tier))}


def _scenario(code: str) -> Scenario:
    scenario = db.session.scalar(select(Scenario).where(Scenario.code == code))
    if scenario is None:
        raise _invalid("scenario_code", f"没有场景 {code}")
    return scenario


def _add_unique(*entities, field: str, message: str):
    """Add rows whose unique constraint the database checks, all or none; a duplicate is the caller's
    field error. Returns the first row."""
    db.session.add_all(entities)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise _invalid(field, message) from None
    return entities[0]


# -- scenarios and partners -----------------------------------------------------------------------

def create_scenario(*, actor: str, code: str, name: str) -> Scenario:
    scenario = _add_unique(Scenario(code=code, name=name), field="code", message="场景代码已存在")
    audit.record(actor=actor, action="scenario.create", target=f"scenario:{scenario.id}",
                 detail={"code": code, "name": name})
    db.session.commit()
    return scenario


def list_scenarios() -> list[Scenario]:
    return list(db.session.scalars(select(Scenario).order_by(Scenario.id)))


def get_partner(partner_id: int) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        raise DomainError(ErrorCode.NOT_FOUND, "找不到该合作单位")
    return partner


def list_partners() -> list[Partner]:
    """The public directory: the active partners."""
    return list(db.session.scalars(select(Partner).where(Partner.active.is_(True)).order_by(Partner.id)))


def list_former_partners() -> list[Partner]:
    """公示's history: partners that left the programme, the latest exit first."""
    return list(db.session.scalars(select(Partner).where(Partner.active.is_(False), Partner.left_on.is_not(None))
                                   .order_by(Partner.left_on.desc(), Partner.id.desc())))


def _check_name_free(name: str, area_id: int | None, *, partner_id: int | None = None) -> None:
    """Partner names are unique within an area (partners without an area count as one area)."""
    same = select(Partner.id).where(func.lower(Partner.name) == name.lower(),
                                     Partner.area_id.is_(None) if area_id is None else Partner.area_id == area_id)
    if partner_id is not None:
        same = same.where(Partner.id != partner_id)
    if db.session.scalar(same.limit(1)) is not None:
        raise DomainError(ErrorCode.PARTNER_NAME_TAKEN, field="name")


def list_all_partners() -> list[Partner]:
    """Every partner, inactive ones included (the office's view; the public sees only active ones)."""
    return list(db.session.scalars(select(Partner).order_by(Partner.id)))


def create_partner(*, actor: str, name: str, scenario_code: str, address: str | None = None,
                   hours: str | None = None, area_id: int | None = None) -> Partner:
    """Sign up a partner (merchant or public office) in a scenario; its name is new in its area."""
    if not name.strip():
        raise _invalid("name", "请填写名称")
    _check_area(area_id)
    _check_name_free(name.strip(), area_id)
    partner = Partner(name=name.strip(), scenario=_scenario(scenario_code), address=address, hours=hours,
                      area_id=area_id, active=True)
    db.session.add(partner)
    db.session.flush()
    audit.record(actor=actor, action="partner.create", target=f"partner:{partner.id}",
                 detail={"name": partner.name, "scenario": scenario_code, "address": address, "hours": hours,
                         "area_id": area_id})
    db.session.commit()
    return partner


def _check_area(area_id: int | None) -> None:
    # The areas table belongs to backend/city (a layer above): reached through the partners' foreign key.
    areas = next(iter(Partner.__table__.c.area_id.foreign_keys)).column.table
    if area_id is not None and db.session.scalar(select(areas.c.id).where(areas.c.id == area_id)) is None:
        raise _invalid("area_id", "没有该区域")


def update_partner(*, actor: str, partner_id: int, changes: dict) -> Partner:
    """Edit a partner's name, scenario, address, hours, area or state; switching it back on clears
    an exit (the audit log keeps it)."""
    partner = get_partner(partner_id)
    before, after = {}, {}
    if "name" in changes and not (changes["name"] or "").strip():
        raise _invalid("name", "请填写名称")
    if "area_id" in changes:
        _check_area(changes["area_id"])
    if "name" in changes or "area_id" in changes:
        _check_name_free(changes.get("name", partner.name).strip(), changes.get("area_id", partner.area_id),
                         partner_id=partner.id)
    for field in PARTNER_FIELDS:
        if field not in changes:
            continue
        value = changes[field]
        if field == "scenario_code":
            before[field], after[field] = partner.scenario.code, value
            partner.scenario = _scenario(value)
            continue
        if field == "name":
            value = value.strip()
        before[field], after[field] = getattr(partner, field), value
        setattr(partner, field, value)
    if changes.get("active") is True and partner.left_on is not None:
        before["left_on"], before["exit_reason"] = partner.left_on.isoformat(), partner.exit_reason
        partner.left_on = partner.exit_reason = None
    audit.record(actor=actor, action="partner.update", target=f"partner:{partner.id}",
                 detail={"before": before, "after": after})
    db.session.commit()
    return partner


def exit_partner(*, actor: str, partner_id: int, reason: str, left_on: date | None = None) -> Partner:
    """A partner leaves the programme on `left_on` (default: today in Beijing): switched off (its perks
    refuse, 公示 lists it no more) and kept with the date and reason, which 公示's history shows.
    Never deleted: redemptions point at it."""
    left_on = left_on or local_day(utcnow())
    partner = get_partner(partner_id)
    if not partner.active:
        raise DomainError(ErrorCode.CONFLICT, "该合作单位已停止合作")
    if not reason.strip():
        raise _invalid("reason", "请填写退出原因")
    partner.active, partner.left_on, partner.exit_reason = False, left_on, reason.strip()
    audit.record(actor=actor, action="partner.exit", target=f"partner:{partner.id}",
                 detail={"name": partner.name, "left_on": left_on.isoformat(), "reason": partner.exit_reason})
    db.session.commit()
    return partner


# -- perks ----------------------------------------------------------------------------------------

def perk_rules(perk: Perk, levels_to_codes: dict[int, str]) -> dict:
    """A perk's rules in the API's words (tier codes, not levels)."""
    return {
        "id": perk.id, "partner_id": perk.partner_id, "kind": perk.kind, "title": perk.title,
        "discount_permille": perk.discount_permille, "max_discount_fen": perk.max_discount_fen,
        "holder_kinds": perk.holder_kinds.split(","),
        "min_tier": levels_to_codes.get(perk.min_tier_level),
        "quota_by_tier": ({levels_to_codes.get(int(level), level): quota
                           for level, quota in sorted(perk.quota_by_tier.items(), key=lambda kv: int(kv[0]))}
                          if perk.quota_by_tier else None),
        "quota_unit": perk.quota_unit,
        "active_from": perk.active_from.isoformat() if perk.active_from else None,
        "active_until": perk.active_until.isoformat() if perk.active_until else None,
        "blackout_calendar": perk.blackout_calendar,
        "limit_per_holder_per_day": perk.limit_per_holder_per_day,
        "time_windows": perk.time_windows or [],
        "active": perk.active,
    }


def _apply_perk_fields(perk: Perk, values: dict) -> None:
    tiers = _tiers_by_code()
    with db.session.no_autoflush:
        _set_perk_fields(perk, values, tiers)
    _check_perk(perk)


def _set_perk_fields(perk: Perk, values: dict, tiers: dict[str, int]) -> None:
    for field, value in values.items():
        if field == "holder_kinds":
            kinds = list(dict.fromkeys(value or []))
            if not kinds or any(kind not in HOLDER_KINDS for kind in kinds):
                raise _invalid(field, "适用主体只能是 person、company")
            perk.holder_kinds = ",".join(kinds)
        elif field == "min_tier":
            if value not in tiers:
                raise _invalid(field, f"没有信用等级 {value}")
            perk.min_tier_level = tiers[value]
        elif field == "quota_by_tier":
            if value is None:
                perk.quota_by_tier = None
                continue
            if not value or any(code not in tiers for code in value):
                raise _invalid(field, "额度须按已有信用等级代码填写")
            if any(not isinstance(q, int) or isinstance(q, bool) or q < 1 for q in value.values()):
                raise _invalid(field, "额度须为正整数")
            perk.quota_by_tier = {str(tiers[code]): quota for code, quota in value.items()}
        elif field == "time_windows":
            try:
                perk.time_windows = parse_windows(value)
            except WindowError as error:
                raise _invalid(field, str(error)) from None
        elif field == "title":
            if not (value or "").strip():
                raise _invalid(field, "请填写优惠名称")
            perk.title = value.strip()
        else:
            setattr(perk, field, value)


def _check_perk(perk: Perk) -> None:
    """The rules that make a perk applicable; the database's CHECK constraints say the same."""
    if perk.kind not in PERK_KINDS:
        raise _invalid("kind", "优惠类型只能是 " + "、".join(PERK_KINDS))
    if perk.kind == "discount":
        if perk.discount_permille is None or not 0 < perk.discount_permille < 1000:
            raise _invalid("discount_permille", "折扣以千分比表示，须在 1 到 999 之间（980 即九八折）")
    elif perk.discount_permille is not None or perk.max_discount_fen is not None:
        raise _invalid("discount_permille", "只有折扣类优惠可以设置折扣与优惠上限")
    if perk.max_discount_fen is not None and perk.max_discount_fen < 1:
        raise _invalid("max_discount_fen", "优惠上限须为正数（分）")
    if perk.active_from and perk.active_until and perk.active_from > perk.active_until:
        raise _invalid("active_until", "结束日期早于开始日期")
    if perk.limit_per_holder_per_day is not None and perk.limit_per_holder_per_day < 1:
        raise _invalid("limit_per_holder_per_day", "每日次数上限须为正整数")


def _jsonable(value):
    return value.isoformat() if isinstance(value, date) else value


def create_perk(*, actor: str, partner_id: int, values: dict) -> Perk:
    partner = get_partner(partner_id)
    perk = Perk(partner_id=partner.id, kind=values.get("kind"), title=values.get("title") or "",
                holder_kinds="person,company", min_tier_level=1, active=True)
    try:
        _apply_perk_fields(perk, {"holder_kinds": list(HOLDER_KINDS), **values})
    except DomainError:
        db.session.rollback()
        raise
    db.session.add(perk)
    db.session.flush()
    audit.record(actor=actor, action="perk.create", target=f"perk:{perk.id}",
                 detail={"partner_id": partner.id, **{k: _jsonable(v) for k, v in values.items()}})
    db.session.commit()
    return perk


def update_perk(*, actor: str, perk_id: int, changes: dict) -> Perk:
    """Change a perk's rules; the next redemption applies them (no code change, no restart)."""
    perk = db.session.get(Perk, perk_id)
    if perk is None:
        raise DomainError(ErrorCode.NOT_FOUND, "找不到该优惠")
    levels = {level: code for code, level in _tiers_by_code().items()}
    before = perk_rules(perk, levels)
    try:
        _apply_perk_fields(perk, changes)
    except DomainError:
        db.session.rollback()
        raise
    after = perk_rules(perk, levels)
    audit.record(actor=actor, action="perk.update", target=f"perk:{perk.id}",
                 detail={"before": {k: before[k] for k in changes if k in before},
                         "after": {k: after[k] for k in changes if k in after}})
    db.session.commit()
    return perk


# -- holiday calendars: blackout days of perks, and the working days of due dates ---------------------

def _calendar_code(calendar: str) -> None:
    """A calendar's code as its column holds it (String(32)): a longer one from the URL is the client's error."""
    if not 1 <= len(calendar) <= 32:
        raise _invalid("calendar", "日历代码须为 1 到 32 个字")


def calendar_days(calendar: str) -> list[HolidayCalendarDay]:
    return list(db.session.scalars(select(HolidayCalendarDay).where(HolidayCalendarDay.calendar == calendar)
                                   .order_by(HolidayCalendarDay.day)))


def add_calendar_day(*, actor: str, calendar: str, day: date, name: str, kind: str = "holiday",
                     days: int = 1) -> None:
    """A holiday, or a run of `days` holidays from `day` (a notice's "2月15日至23日放假调休，共9天"), or
    a make-up working day (调休上班), which only a Saturday or Sunday can be. All or none. Audited."""
    _calendar_code(calendar)
    if kind == "workday" and days != 1:
        raise _invalid("days", "调休上班日须逐日增加")
    if kind == "workday" and (why := not_a_makeup_day(day)):
        raise _invalid("day", f"{day.isoformat()} {why}")
    try:
        wanted = [day + timedelta(days=offset) for offset in range(days)]
    except OverflowError:  # past 9999-12-31
        raise _invalid("days", "日期超出范围") from None
    taken = db.session.scalar(select(func.min(HolidayCalendarDay.day)).where(
        HolidayCalendarDay.calendar == calendar, HolidayCalendarDay.day.between(wanted[0], wanted[-1])))
    if taken is not None:
        raise _invalid("day", "该日期已在日历中" if days == 1 else f"{taken.isoformat()} 已在日历中：本次未增加任何日期")
    # The check above names the day taken; the constraint still decides if another clerk adds one meanwhile.
    _add_unique(*(HolidayCalendarDay(calendar=calendar, day=each, name=name, kind=kind) for each in wanted),
                field="day", message="该日期已在日历中")
    detail = {"day": day.isoformat(), "name": name, "kind": kind} | ({"days": days} if days > 1 else {})
    audit.record(actor=actor, action="calendar.add_day", target=f"calendar:{calendar}", detail=detail)
    calendar_days_changed.send(calendar, days=frozenset(wanted), actor=actor)
    db.session.commit()


def remove_calendar_day(*, actor: str, calendar: str, day: date) -> None:
    _calendar_code(calendar)
    entry = db.session.scalar(select(HolidayCalendarDay).where(HolidayCalendarDay.calendar == calendar,
                                                               HolidayCalendarDay.day == day))
    if entry is None:
        raise DomainError(ErrorCode.NOT_FOUND, "日历中没有该日期")
    db.session.delete(entry)
    audit.record(actor=actor, action="calendar.remove_day", target=f"calendar:{calendar}",
                 detail={"day": day.isoformat(), "name": entry.name, "kind": entry.kind})
    db.session.flush()
    calendar_days_changed.send(calendar, days=frozenset({day}), actor=actor)
    db.session.commit()


# -- what each year of a calendar rests on: the notice its days were checked against, or none (预排) --

# Further than a due date reaches (OBJECTION_DUE_WORKING_DAYS, 7, and a 9-day Spring Festival), with
# weeks to spare for checking: a year this close must rest on the State Council's notice.
ATTENTION_DAYS = 60


def calendar_years(calendar: str, days: list[HolidayCalendarDay] | None = None) -> list[dict]:
    """Each year that has days or a basis: its basis (None: provisional) and its counts of days
    (`days`: the calendar's, when the caller has read them already)."""
    years: dict[int, dict] = {}

    def year(number: int) -> dict:
        return years.setdefault(number, {"year": number, "basis": None, "holidays": 0, "workdays": 0})

    for row in db.session.scalars(select(HolidayCalendarYear).where(HolidayCalendarYear.calendar == calendar)):
        year(row.year)["basis"] = row.basis
    for day in calendar_days(calendar) if days is None else days:
        year(day.day.year)["holidays" if day.kind == "holiday" else "workdays"] += 1
    return sorted(years.values(), key=lambda entry: entry["year"])


def calendar_attention(calendar: str, *, today: date | None = None, years: list[dict] | None = None) -> list[dict]:
    """The years from `today` (the city's) to ATTENTION_DAYS ahead whose days cannot be relied on:
    `missing` (no holiday loaded: due dates there count weekends only) or `provisional` (not checked).
    `years`: calendar_years(calendar), when the caller has it already."""
    today = today or local_day(utcnow())
    known = {entry["year"]: entry for entry in (calendar_years(calendar) if years is None else years)}
    attention = []
    for number in range(today.year, (today + timedelta(days=ATTENTION_DAYS)).year + 1):
        entry = known.get(number)
        if entry is None or not entry["holidays"]:
            attention.append({"year": number, "state": "missing"})
        elif entry["basis"] is None:
            attention.append({"year": number, "state": "provisional"})
    return attention


def set_calendar_basis(*, calendar: str, year: int, basis: str | None, changes: list[str]) -> None:
    """What `flask city load` writes for a year of a calendar; says in `changes` if it changed."""
    row = _calendar_year(calendar, year)
    if row.basis != basis:
        changes.append(f"日历“{calendar}”{year} 年的依据：{row.basis or '预排'} → {basis or '预排'}")
        row.basis = basis


def confirm_calendar_year(*, actor: str, calendar: str, year: int, basis: str) -> None:
    """The office checked a year's days against the notice `basis` names. Audited."""
    _calendar_code(calendar)
    basis = basis.strip()
    if not basis:
        raise _invalid("basis", "请填写所依据的通知")
    if not 2000 <= year <= 2100:
        raise _invalid("year", "年份须在 2000 到 2100 之间")
    holidays = db.session.scalar(select(func.count()).select_from(HolidayCalendarDay).where(
        HolidayCalendarDay.calendar == calendar, HolidayCalendarDay.kind == "holiday",
        HolidayCalendarDay.day >= date(year, 1, 1), HolidayCalendarDay.day <= date(year, 12, 31)))
    if not holidays:
        raise _invalid("year", f"日历中还没有 {year} 年的放假日期：请先按通知录入，再确认依据")
    row = _calendar_year(calendar, year)
    before, row.basis = row.basis, basis
    audit.record(actor=actor, action="calendar.confirm_year", target=f"calendar:{calendar}",
                 detail={"year": year, "before": before, "basis": basis})
    db.session.commit()


def _calendar_year(calendar: str, year: int) -> HolidayCalendarYear:
    """The year's row, made if missing; two clerks making it at once end with one row."""
    def existing() -> HolidayCalendarYear | None:
        return db.session.scalar(select(HolidayCalendarYear).where(HolidayCalendarYear.calendar == calendar,
                                                                   HolidayCalendarYear.year == year))

    if (row := existing()) is not None:
        return row
    try:
        with db.session.begin_nested():
            row = HolidayCalendarYear(calendar=calendar, year=year)
            db.session.add(row)
    except IntegrityError:  # the other one's row won: use it
        row = existing()
    return row
