"""A perk's time-of-day windows (特定场次、时段): written, checked and enforced in one place.

A window is "HH:MM-HH:MM" in the city's local time (Asia/Shanghai, backend/timeutil.py): the start
is inside, the end is not, so "09:00-11:30" takes a scan at 09:00:00 and refuses one at 11:30:00.
"24:00" may end a window (the last minute of the day is then inside), and a window whose end is
earlier than its start runs past midnight ("22:00-02:00"); the perk's day (its dates, its blackout
calendar, its daily limit) is still the local day of the scan. No windows: usable all day.
The office's screen, the city file (backend/city/loader.py) and redemption all read them here.
"""
from __future__ import annotations

import re
from datetime import datetime

from ..errors import DomainError, ErrorCode
from ..timeutil import SHANGHAI

MAX_WINDOWS = 6
_WINDOW = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class WindowError(ValueError):
    """A window as written cannot be used; the message is Chinese, for the person who wrote it."""


def _minutes(hours: str, minutes: str) -> int:
    return int(hours) * 60 + int(minutes)


def parse_windows(value) -> list[str] | None:
    """The windows in their stored form ("09:00-11:30", sorted), None for "all day"; raises WindowError."""
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise WindowError("时段须写成 [\"09:00-11:30\", \"14:00-17:00\"] 这样的列表")
    if len(value) > MAX_WINDOWS:
        raise WindowError(f"时段最多 {MAX_WINDOWS} 个")
    spans = []
    for text in value:
        cleaned = text.strip().replace("：", ":").replace("–", "-").replace("—", "-").replace("~", "-").replace(" ", "")
        match = _WINDOW.match(cleaned)
        if not match:
            raise WindowError(f"时段“{text}”的格式应为 09:00-11:30（24 小时制）")
        start, end = _minutes(*match.group(1, 2)), _minutes(*match.group(3, 4))
        if start >= 24 * 60 or end > 24 * 60:
            raise WindowError(f"时段“{text}”的时刻须在 00:00 到 24:00 之间，24:00 只能作结束")
        if start == end:
            raise WindowError(f"时段“{text}”的开始与结束相同")
        spans.append((start, end, cleaned))
    spans.sort()
    covered = [minute for start, end, _ in spans for minute in _span(start, end)]
    if len(covered) != len(set(covered)):
        raise WindowError("时段之间有重叠，请合并为一个")
    return [text for _, _, text in spans]


def _span(start: int, end: int) -> range | list[int]:
    return range(start, end) if start < end else [*range(start, 24 * 60), *range(0, end)]


def inside(windows: list[str] | None, moment: datetime) -> bool:
    """Whether a UTC moment falls in one of the windows on the local clock (always, without windows)."""
    if not windows:
        return True
    local = moment.astimezone(SHANGHAI)
    now = local.hour * 60 + local.minute
    for window in windows:
        match = _WINDOW.match(window)
        start, end = _minutes(*match.group(1, 2)), _minutes(*match.group(3, 4))
        if (start <= now < end) if start < end else (now >= start or now < end):
            return True
    return False


def words(windows: list[str] | None) -> str:
    """The windows for people: "09:00–11:30、14:00–17:00"."""
    return "、".join(window.replace("-", "–") for window in windows or [])


def check_hours(windows: list[str] | None, scanned_at: datetime) -> None:
    """Refuse a scan outside the perk's windows (perk_outside_hours, naming the windows)."""
    if not inside(windows, scanned_at):
        raise DomainError(ErrorCode.PERK_OUTSIDE_HOURS, f"该优惠仅在每天 {words(windows)}（北京时间）可用")
