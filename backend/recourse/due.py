"""When an objection must be answered: N working days after the day it was filed, on the city's calendar.

A working day is Monday to Friday unless the named holiday calendar makes it a holiday, or a
Saturday or Sunday that the calendar makes a make-up working day (调休上班: the State Council's
yearly notice lists both; `flask city load` writes them, the office edits them under 节假日日历). The
day of filing does not count (the usual 次日起算); the answer is due by the end of the last working
day, Beijing time. A year not yet loaded counts weekends only (the office's screens say so).

A due date follows the calendar: when days change (the office's screen, `flask city load`), every
open objection whose count crossed one of them gets its due date again, audited as
`objection.due_moved`. A year loaded before its notice (预排) is then put right once it is checked.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import current_app
from sqlalchemy import select

from .. import audit
from ..extensions import db
from ..merchants import catalog
from ..merchants.models import HolidayCalendarDay
from ..timeutil import SHANGHAI, iso, local_day
from .models import Objection


def nth_working_day_after(start: date, days: int, holidays: set[date],
                          workdays: set[date] | frozenset[date] = frozenset()) -> date:
    """The `days`-th working day after `start` (not counting `start`): a weekday not in `holidays`, or
    a day of `workdays` (make-up working days, whatever their weekday)."""
    day, left = start, days
    while left > 0:
        day += timedelta(days=1)
        if day in workdays or (day.weekday() < 5 and day not in holidays):
            left -= 1
    return day


def due_at(*, filed_at: datetime, working_days: int, calendar: str) -> datetime:
    """The moment (UTC) an objection filed at `filed_at` is due: the end of its last working day."""
    start = local_day(filed_at)
    # Seven calendar days per five working ones, plus the longest holiday run, is always enough.
    horizon = start + timedelta(days=working_days * 7 // 5 + 40)
    days = db.session.execute(select(HolidayCalendarDay.day, HolidayCalendarDay.kind).where(
        HolidayCalendarDay.calendar == calendar, HolidayCalendarDay.day > start, HolidayCalendarDay.day <= horizon)).all()
    last = nth_working_day_after(start, working_days, {day for day, kind in days if kind == "holiday"},
                                 {day for day, kind in days if kind == "workday"})
    return datetime.combine(last, time(23, 59, 59), SHANGHAI).astimezone(timezone.utc)


@catalog.calendar_days_changed.connect
def follow_calendar(calendar: str, *, days: frozenset[date], actor: str) -> None:
    """Open objections counted across a changed day (filed before it, due on or after it) get their
    due date again, in the transaction that changed the calendar."""
    config = current_app.config
    if calendar != config["OBJECTION_CALENDAR"] or not days:
        return
    first, last = min(days), max(days)
    candidates = db.session.scalars(select(Objection).where(
        Objection.status != "closed",
        Objection.created_at < datetime.combine(last, time(0), SHANGHAI),  # filed on a day before the last
        Objection.due_at >= datetime.combine(first, time(0), SHANGHAI)))   # due on the first or later
    for objection in candidates:
        filed, due_day = local_day(objection.created_at), local_day(objection.due_at)
        if not any(filed < day <= due_day for day in days):
            continue
        moved = due_at(filed_at=objection.created_at, calendar=calendar,
                       working_days=objection.due_working_days or config["OBJECTION_DUE_WORKING_DAYS"])
        if moved != objection.due_at:
            audit.record(actor=actor, action="objection.due_moved", target=f"objection:{objection.id}",
                         detail={"before": iso(objection.due_at), "after": iso(moved)})
            objection.due_at = moved
