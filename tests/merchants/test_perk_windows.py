"""A perk's time-of-day windows (特定场次、时段): how they are written, and that redemption enforces
them on the city's clock (Asia/Shanghai), at the scan's time, with a stable code."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from backend.errors import DomainError, ErrorCode
from backend.extensions import db
from backend.merchants.models import FailedAttempt
from backend.merchants.perk_rules import WindowError, check_hours, inside, parse_windows
from backend.timeutil import SHANGHAI
from tests.helpers import refused, utc


def at_local(hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A UTC moment whose Shanghai clock shows hour:minute:second (on 2026-06-01)."""
    return datetime(2026, 6, 1, hour % 24, minute, second, tzinfo=SHANGHAI).astimezone(timezone.utc)


def test_windows_are_stored_sorted_and_normalised():
    assert parse_windows(["14:00-17:00", "09:00 - 11:30"]) == ["09:00-11:30", "14:00-17:00"]
    assert parse_windows(["09：00—11：30"]) == ["09:00-11:30"]  # typed with a Chinese input method
    assert parse_windows(["22:00-24:00"]) == ["22:00-24:00"]
    assert parse_windows(["22:00-02:00"]) == ["22:00-02:00"]  # past midnight
    assert parse_windows(None) is None and parse_windows([]) is None


@pytest.mark.parametrize("windows, words", [
    (["9-11"], "格式"), (["25:00-26:00"], "格式"), (["09:60-10:00"], "格式"), (["24:00-01:00"], "24:00 只能作结束"),
    (["10:00-10:00"], "相同"), (["09:00-12:00", "11:00-13:00"], "重叠"), (["22:00-02:00", "01:00-03:00"], "重叠"),
    ("09:00-11:30", "列表"), ([f"0{i}:00-0{i}:30" for i in range(7)], "最多"),
])
def test_a_window_that_cannot_be_used_is_refused_in_chinese(windows, words):
    with pytest.raises(WindowError, match=words):
        parse_windows(windows)


def test_the_start_is_inside_the_end_is_not_on_the_shanghai_clock():
    windows = ["09:00-11:30", "14:00-17:00"]
    assert at_local(9) == datetime(2026, 6, 1, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai is 01:00 UTC
    assert inside(windows, at_local(9)) and inside(windows, at_local(11, 29, 59)) and inside(windows, at_local(14))
    assert not inside(windows, at_local(8, 59, 59)) and not inside(windows, at_local(11, 30))
    assert not inside(windows, at_local(12)) and not inside(windows, at_local(17))
    # 01:30 UTC is 09:30 in Shanghai: inside, although 01:30 on a UTC clock would not be.
    assert inside(windows, datetime(2026, 6, 1, 1, 30, tzinfo=timezone.utc))
    assert inside(None, at_local(3)) and inside([], at_local(3))


def test_midnight_edges():
    late = ["22:00-24:00"]
    assert inside(late, at_local(23, 59, 59)) and not inside(late, at_local(0)) and not inside(late, at_local(21, 59))
    overnight = ["22:00-02:00"]
    assert inside(overnight, at_local(22)) and inside(overnight, at_local(0)) and inside(overnight, at_local(1, 59))
    assert not inside(overnight, at_local(2)) and not inside(overnight, at_local(12))
    early = ["00:00-06:00"]
    assert inside(early, at_local(0)) and not inside(early, at_local(23, 59, 59))


def test_check_hours_names_the_windows():
    with pytest.raises(DomainError) as caught:
        check_hours(["09:00-11:30", "14:00-17:00"], at_local(12))
    assert caught.value.code is ErrorCode.PERK_OUTSIDE_HOURS
    assert "09:00–11:30、14:00–17:00" in caught.value.message
    check_hours(["09:00-11:30"], at_local(10))  # inside: no refusal


def _window_around(moment: datetime, *, before: int, after: int) -> str:
    local = moment.astimezone(SHANGHAI)
    start, end = local - timedelta(minutes=before), local + timedelta(minutes=after)
    return f"{start:%H:%M}-{end:%H:%M}"


def test_redemption_inside_a_window_is_recorded_outside_it_refused_and_recorded_as_failed(shop):
    now = utc()
    open_now = shop.perk(time_windows=[_window_around(now, before=30, after=30)])
    shut_now = shop.perk(title="已过时段", time_windows=[_window_around(now, before=180, after=-120)])
    holder = shop.holder()
    assert shop.redeem(shop.pass_for(holder), open_now).redemption.id
    error = refused("perk_outside_hours", shop.redeem, shop.pass_for(holder), shut_now)
    assert "北京时间" in error.message
    failed = db.session.scalar(select(FailedAttempt).where(FailedAttempt.perk_id == shut_now))
    assert failed.code == "perk_outside_hours" and failed.subject_id == holder


def test_an_offline_scan_is_judged_at_the_time_it_was_scanned(shop):
    scanned = utc(hours=-2)
    perk = shop.perk(time_windows=[_window_around(scanned, before=20, after=20)])  # open then, shut now
    holder = shop.holder()
    outcome = shop.redeem(shop.pass_for(holder, at=scanned), perk, scanned_at=scanned, queued=True)
    assert outcome.redemption.offline and outcome.redemption.id
