"""When an objection must be answered: N working days after the day it was filed, on the city's calendar.

A working day is Monday to Friday unless the named holiday calendar makes it a holiday, or a
Saturday or Sunday that the calendar makes a make-up working day (调休上班: the State Council's
yearly notice lists both; `flask city load` writes them, the office edits them under 节假日日历). The
day of filing does not count (the usual 次日起算); the answer is due by the end of the last working
day, Beijing time. A year not yet loaded counts weekends only.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select

from ..extensions import db
from ..merchants.models import HolidayCalendarDay
from ..timeutil import SHANGHAI, local_day


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
