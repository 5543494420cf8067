"""The statistics' rollups: years of redemptions answered from small tables, exactly.

`daily_stats` holds, per local day, partner, tier, holder kind and issuing city (`issuer_code`, as
the redemption recorded it: see `issuer`), the redemptions up to `stats_rollup.redemption_id` that were
recorded, counting as recorded those voided after `stats_rollup.voids_through`, with their sums and
how many were scanned offline;
`monthly_stats` sums it per month and `day_totals` per day, so that a year by partner reads twelve
months and a year by day 365 rows. An answer (`counted`) adds what the rollups do not hold, read live
through indexes:

    + the recorded redemptions after redemption_id (today's, and a late offline one of any day)
    - those up to redemption_id voided after voids_through (the rollups still count them)

which comes to exactly the recorded redemptions, however long ago the rollup ran (`read` makes sure
the marks and the rollups a statement sees belong to one run).

Where the database has HyperLogLog (sketches.py), every rollup row also carries the sketch of its
subject ids, and `counted(sketched=True)` gives the sketches of a range beside the sums: rolled-up
sketches plus those of the redemptions after redemption_id (a void since cannot be taken out of a
sketch; the next rollup does).

`flask stats rollup` (`roll_up`) moves both marks forward and recomputes only the days (and their
months) touched since its last run: the days of the redemptions recorded since, and of those voided
since (a void changes a past day; so does an offline redemption synced late). Recording a redemption
does nothing more: no trigger, no second write. Ids are handed out at insert and become visible at
commit, so, as in the case feed, a run takes only what is older than SETTLE: every transaction that
records or voids is far shorter than that, so nothing earlier can still be on its way.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import (BigInteger, Date, Index, Integer, String, case, delete, func, insert, literal, null, or_,
                        select, union_all)

from ..dbtypes import utcnow
from ..extensions import db
from ..merchants.models import Redemption
from . import sketches
from .models import DailyStats, DayTotals, MonthlyStats, StatsRollup

SETTLE = timedelta(seconds=60)
KEYS = ("local_day", "partner_id", "tier_level", "holder_kind", "issuer_code")
SUMS = ("redemptions", "amount_fen", "discount_fen", "offline")
COUNTED = (*KEYS, *SUMS)
STATE_ID = 1

# The voids since the rollup, found without reading the table: only voided rows enter this index, so
# recording a redemption (voided_at empty) adds nothing to it. Declared beside its only reader, on
# the redemptions table (migration 0010_daily_stats).
Index("ix_redemptions_voided_at", Redemption.voided_at, postgresql_where=Redemption.voided_at.isnot(None),
      sqlite_where=Redemption.voided_at.isnot(None))


# Where a rollup that never ran stands: nothing rolled up, every redemption counted live.
NEVER = (0, datetime(1970, 1, 1, tzinfo=timezone.utc))


def marks(session) -> tuple[int, datetime]:
    """Where the rollup stands, on this session's server: (redemption_id, voids_through)."""
    state = session.execute(select(StatsRollup.redemption_id, StatsRollup.voids_through)
                            .where(StatsRollup.id == STATE_ID)).one_or_none()
    return (state.redemption_id, state.voids_through) if state is not None else NEVER


def read(session, run):
    """run(marks) with the rollup's current marks, and again if they moved meanwhile.

    `counted` takes the marks as values the planner can see (read inside the statement, the planner
    guessed a third of the table lay after them and read it all by primary key: seconds on 10 M
    rows). A rollup commits its rows and its marks together and marks only grow, so a statement
    whose snapshot saw other marks than those it was given shows as marks that moved by the time
    it has run: then it runs again.
    """
    while True:
        before = marks(session)
        result = run(before)
        if marks(session) == before:
            return result


# Rows recorded before the issuing city was (migration 0012_federation_tiers filled in this city's
# holders; a previous release running while it applied may still have written NULL): a key column
# cannot be NULL, so they keep these codes, which no city has (issuer codes are region codes, > 0).
UNKNOWN_VISITOR = 0  # a partner city's pass (no holder here), city not recorded
HERE_UNRECORDED = -1  # a holder of this city: the statistics read it as this city's code


def issuer():
    """The redemption's issuing city as a rollup key: the recorded code, else one of the two above."""
    return func.coalesce(Redemption.issuer_code, case((Redemption.subject_id.is_(None), UNKNOWN_VISITOR),
                                                      else_=HERE_UNRECORDED))


def _row_sums(sign: int = 1):
    count, offline = func.count(), func.sum(case((Redemption.offline, 1), else_=0))
    amount = func.sum(func.coalesce(Redemption.amount_fen, 0))
    discount = func.sum(func.coalesce(Redemption.discount_fen, 0))
    return (count, amount, discount, offline) if sign > 0 else (-count, -amount, -discount, -offline)


def counted(*, per_day: bool, marks: tuple[int, datetime], day_from=None, day_to=None, sketched: bool = False):
    """A subquery of COUNTED (local_day, partner_id, tier_level, holder_kind, issuer_code, redemptions,
    amount_fen, discount_fen, offline) whose sums, grouped by any of the keys (by local_day alone
    with `per_day`), are those of the recorded redemptions of those days, given the rollup's current
    `marks` (see `read`). Rolled-up rows come from the coarsest table that fits: whole months from
    monthly_stats and the days around them from daily_stats; with `per_day`, day_totals.

    `sketched` (where sketches.available): also `subjects`, whose union over a group is the sketch of
    the group's holders (with those of redemptions voided since the rollup: see the module)."""
    rolled_up_to, voids_through = marks
    daily, monthly, totals = _sources(sketched)
    rolled = [_days(*totals, day_from, day_to)] if per_day else _months_and_days(day_from, day_to, daily, monthly)
    # Summed per rollup key before the union: the rows after the mark (a day's, or all of them
    # before the first rollup) reach the grouping as a few rows per day, as the rollups do.
    keys = (Redemption.local_day, Redemption.partner_id, Redemption.tier_level, Redemption.holder_kind, issuer())
    since = [
        select(*keys, *_row_sums(), *([sketches.of_ids(Redemption.subject_id)] if sketched else []))
        .where(Redemption.id > rolled_up_to, Redemption.status == "recorded"),
        select(*keys, *_row_sums(-1), *([null().cast(sketches.Hll())] if sketched else []))
        .where(Redemption.id <= rolled_up_to, Redemption.voided_at > voids_through, Redemption.status == "voided"),
    ]
    return union_all(*rolled, *(_days(part, Redemption.local_day, day_from, day_to).group_by(*keys)
                                for part in since)).subquery("counted")


# The keys day_totals does not have, as typed NULLs (a union's columns must agree in type).
NO_KEYS = (null().cast(BigInteger), null().cast(Integer), null().cast(String(16)), null().cast(Integer))
# The rollup tables with their sketch column, which the models do not declare (sketches.py).
SKETCHED = (sketches.sketched("daily_stats", *COUNTED), sketches.sketched("monthly_stats", "month", *COUNTED[1:]),
            sketches.sketched("day_totals", "local_day", *SUMS))


def _sources(sketched: bool):
    """(select, its day column) of daily_stats, monthly_stats and day_totals: keys, sums and, `sketched`, sketches."""
    daily, monthly, totals = SKETCHED if sketched else (DailyStats.__table__, MonthlyStats.__table__,
                                                         DayTotals.__table__)

    def sketch(table):
        return [table.c.subjects] if sketched else []
    return ((select(*(daily.c[name] for name in COUNTED), *sketch(daily)), daily.c.local_day),
            (select(monthly.c.month, *(monthly.c[name] for name in COUNTED[1:]), *sketch(monthly)), monthly.c.month),
            (select(totals.c.local_day, *NO_KEYS, *(totals.c[name] for name in SUMS), *sketch(totals)),
             totals.c.local_day))


def _months_and_days(day_from, day_to, daily, monthly) -> list:
    """The whole months of the range from monthly_stats, the days before and after them from daily_stats
    (`daily`, `monthly`: a select of each and its day column)."""
    first = None if day_from is None else (day_from if day_from.day == 1 else _next_month(day_from))
    # Months before `stop` end within the range: the month after `day_to` if it ends one, else its own.
    stop = None if day_to is None else (
        day_to + timedelta(days=1) if (day_to + timedelta(days=1)).day == 1 else day_to.replace(day=1))
    if first is not None and stop is not None and first >= stop:  # no whole month in the range
        return [_days(*daily, day_from, day_to)]
    parts = [_days(*monthly, first, stop and stop - timedelta(days=1))]
    if first is not None and day_from < first:
        parts.append(_days(*daily, day_from, first - timedelta(days=1)))
    if stop is not None and stop <= day_to:
        parts.append(_days(*daily, stop, day_to))
    return parts


def _days(query, column, day_from, day_to):
    if day_from:
        query = query.where(column >= day_from)
    if day_to:
        query = query.where(column <= day_to)
    return query


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def roll_up(*, now: datetime | None = None) -> dict:
    """Bring the rollups up to what is older than SETTLE; returns the days recomputed and the new marks."""
    cutoff = (now or utcnow()) - SETTLE
    state = db.session.scalar(select(StatsRollup).where(StatsRollup.id == STATE_ID).with_for_update())
    if state is None:  # the migration writes this row; a database emptied by hand starts again from nothing
        state = StatsRollup(id=STATE_ID, redemption_id=NEVER[0], voids_through=NEVER[1])
        db.session.add(state)
    last_id, last_voids = state.redemption_id, state.voids_through
    newest = db.session.scalar(select(Redemption.id).where(Redemption.recorded_at <= cutoff)
                               .order_by(Redemption.id.desc()).limit(1))
    up_to = max(last_id, newest or 0)
    voids_through = max(last_voids, cutoff)
    recorded = select(Redemption.local_day).where(Redemption.id > last_id, Redemption.id <= up_to)
    voided = select(Redemption.local_day).where(Redemption.voided_at > last_voids,
                                                Redemption.voided_at <= voids_through)
    days = sorted(db.session.scalars(recorded.union(voided)))
    if days:
        sketched = sketches.available(db.session)
        _recount_days(days, up_to, voids_through, sketched)
        for month in sorted({day.replace(day=1) for day in days}):
            _recount_month(month, sketched)
    state.redemption_id, state.voids_through, state.ran_at = up_to, voids_through, now or utcnow()
    db.session.commit()
    return {"days": len(days), "redemption_id": up_to, "voids_through": voids_through}


def _recount_days(days: list[date], up_to: int, voids_through: datetime, sketched: bool) -> None:
    db.session.execute(delete(DailyStats).where(DailyStats.local_day.in_(days)))
    db.session.execute(delete(DayTotals).where(DayTotals.local_day.in_(days)))
    keys = (Redemption.local_day, Redemption.partner_id, Redemption.tier_level, Redemption.holder_kind, issuer())
    counts = (select(*keys, *_row_sums(), *([sketches.of_ids(Redemption.subject_id)] if sketched else []))
              .where(Redemption.local_day.in_(days), Redemption.id <= up_to,
                     or_(Redemption.status == "recorded", Redemption.voided_at > voids_through))
              .group_by(*keys))
    daily, _, totals = SKETCHED if sketched else (DailyStats.__table__, None, DayTotals.__table__)
    sketch = [sketches.COLUMN] if sketched else []
    db.session.execute(insert(daily).from_select([*COUNTED, *sketch], counts))
    sums = (select(daily.c.local_day, *(func.sum(daily.c[name]) for name in SUMS),
                   *([sketches.union(daily.c.subjects)] if sketched else []))
            .where(daily.c.local_day.in_(days)).group_by(daily.c.local_day))
    db.session.execute(insert(totals).from_select(["local_day", *SUMS, *sketch], sums))


def _recount_month(month: date, sketched: bool) -> None:
    db.session.execute(delete(MonthlyStats).where(MonthlyStats.month == month))
    daily, monthly, _ = SKETCHED if sketched else (DailyStats.__table__, MonthlyStats.__table__, None)
    keys = [daily.c[name] for name in KEYS[1:]]
    sums = (select(literal(month, Date), *keys, *(func.sum(daily.c[name]) for name in SUMS),
                   *([sketches.union(daily.c.subjects)] if sketched else []))
            .where(daily.c.local_day >= month, daily.c.local_day < _next_month(month))
            .group_by(*keys))
    db.session.execute(insert(monthly).from_select(["month", *COUNTED[1:], *([sketches.COLUMN] if sketched else [])],
                                                   sums))
