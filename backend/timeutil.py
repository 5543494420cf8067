"""Time at the edges: the database speaks UTC, people and daily limits speak Asia/Shanghai."""
from __future__ import annotations

import time
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from .errors import DomainError, ErrorCode

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_day(moment: datetime) -> date:
    """The calendar day in China of a UTC moment (daily limits and statistics count by it)."""
    return moment.astimezone(SHANGHAI).date()


def day_start(day: date) -> datetime:
    """The first moment of a local (Asia/Shanghai) day: date filters take [day_start(a), day_start(b + 1 day))."""
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


# The days a date filter may name. Beyond them a day's first moment in UTC does not exist (0001-01-01
# in Beijing is still year 0 in UTC; the day after 9999-12-31 is none): the filters would fail as 500s.
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def check_day_range(day_from: date | None, day_to: date | None) -> None:
    """Refuse a day outside EARLIEST_DAY..LATEST_DAY, and a start day after the end day (both inclusive):
    an empty answer would look like "nothing happened"."""
    for field, day in (("from", day_from), ("to", day_to)):
        if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
            raise DomainError(ErrorCode.VALIDATION_ERROR, f"日期须在 {EARLIEST_DAY} 至 {LATEST_DAY} 之间", field=field)
    if day_from is not None and day_to is not None and day_from > day_to:
        raise DomainError(ErrorCode.DATE_RANGE_INVALID, field="from")


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def iso_from_unix(seconds: int) -> str:
    """iso(from_unix(seconds)) for whole seconds, without building a datetime (twice a pass issued)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
