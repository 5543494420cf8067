"""The statistics read daily rollups plus what changed since, and stay exactly a direct count:
before any rollup, after one, after voids of rolled-up days, late offline redemptions and today's."""
from __future__ import annotations

import importlib
import itertools
import secrets
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, insert, select, text, update

from backend.credit.models import CreditSubject
from backend.errors import DomainError, ErrorCode
from backend.extensions import db
from backend.merchants import voids as redemptions
from backend.merchants.models import Perk, Redemption
from backend.office import rollup, service
from backend.office.models import DailyStats, DayTotals, MonthlyStats

from .test_export import redeem

Issuer = importlib.import_module("backend.pass.models").Issuer

GROUPINGS = ("scenario", "partner", "tier", "day", "area", "holder_kind", "issuer")
LOCAL_ISSUER = "(select code from pass_issuers where local)"
DIRECT = {  # the statistics as a plain aggregate of the redemptions table: what every answer must equal
    "scenario": ("scenarios.name", "scenarios.name", "join partners on partners.id = r.partner_id "
                 "join scenarios on scenarios.id = partners.scenario_id"),
    "partner": ("partners.name", "partners.name", "join partners on partners.id = r.partner_id"),
    "tier": ("tiers.code", "tiers.name", "join tiers on tiers.level = r.tier_level"),
    "day": ("r.local_day", "r.local_day", ""),
    "area": ("coalesce(areas.code, 'none')", "coalesce(areas.name, '未划分片区')",
             "join partners on partners.id = r.partner_id left join areas on areas.id = partners.area_id"),
    "holder_kind": ("r.holder_kind", "case r.holder_kind when 'person' then '个人' else '企业' end", ""),
    # The recorded city; a row without one: this city's for a holder here, else a group of its own.
    "issuer": ("case when r.issuer_code is not null then cast(r.issuer_code as varchar(16)) "
               f"when r.subject_id is not null then cast({LOCAL_ISSUER} as varchar(16)) else 'unknown' end",
               "coalesce(pass_issuers.name, '外地信用码（签发城市未记录）')",
               "left join pass_issuers on pass_issuers.code = "
               f"coalesce(r.issuer_code, case when r.subject_id is not null then {LOCAL_ISSUER} end)"),
}
DAYS = [date(2026, 10, 30), date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)]
RANGES = [(None, None), (DAYS[1], DAYS[2]), (DAYS[2], None), (None, DAYS[0]), (date(2025, 1, 1), date(2025, 12, 31)),
          (date(2026, 10, 1), date(2026, 10, 31)), (DAYS[1], date(2026, 11, 30)), (date(2026, 9, 1), DAYS[2]),
          (DAYS[2], DAYS[2])]


def direct(group_by: str, day_from, day_to) -> list[dict]:
    key, label, joins = DIRECT[group_by]
    where = ["r.status = 'recorded'"] + (["r.local_day >= :day_from"] if day_from else []) + (
        ["r.local_day <= :day_to"] if day_to else [])
    rows = db.session.execute(text(
        f"select {key}, {label}, count(*), coalesce(sum(r.amount_fen), 0), coalesce(sum(r.discount_fen), 0), "
        f"count(distinct r.subject_id), sum(case when r.offline then 1 else 0 end) "
        f"from redemptions r {joins} where {' and '.join(where)} group by {key}, {label}"),
        {"day_from": day_from, "day_to": day_to})
    found = [{"key": str(row[0]), "label": str(row[1]), "redemptions": row[2], "amount_fen": int(row[3]),
              "discount_fen": int(row[4]), "beneficiaries": row[5], "offline": int(row[6])} for row in rows]
    return sorted(found, key=lambda row: row["key"])


def assert_exact() -> None:
    """Every grouping and range, served as the office sees it (rollups where they fit) and read from the
    rows alone, equals the plain count."""
    for group_by, (day_from, day_to) in itertools.product(GROUPINGS, RANGES):
        expected, span = direct(group_by, day_from, day_to), {"day_from": day_from, "day_to": day_to}
        assert service.stats(group_by=group_by, beneficiaries=True, **span) == expected, (group_by, day_from, day_to)
        assert service.stats(group_by=group_by, raw=True, **span) == expected
        assert service.stats(group_by=group_by, **span) == [{**row, "beneficiaries": None} for row in expected]


def record(perk: Perk, day: date, *, tier_level: int, amount_fen: int, recorded_at: datetime,
           subject_id: int | None = None, holder_kind: str = "person", offline: bool = False,
           issuer_code: int | None = None) -> int:
    """A redemption as the hot path leaves it, written directly (days in the past, many partners);
    no subject: a partner city's pass; no issuer_code: a row from before the issuing city was recorded."""
    return db.session.execute(insert(Redemption).values(
        client_id=str(uuid.uuid4()), pass_id=secrets.token_hex(16), perk_id=perk.id, partner_id=perk.partner_id,
        subject_id=subject_id, holder_kind=holder_kind, tier_level=tier_level, amount_fen=amount_fen,
        payable_fen=amount_fen - amount_fen // 50, discount_fen=amount_fen // 50, status="recorded", offline=offline,
        scanned_at=recorded_at, recorded_at=recorded_at, local_day=day, issuer_code=issuer_code).returning(Redemption.id)).scalar_one()


VISITOR_CITIES = {130100: "石家庄市信用办", 110000: "北京市信用办"}


@pytest.fixture
def rolled(rollups):
    """Rollups put back after the test (conftest), and two partner cities whose visitors redeem here
    (issuers are reference data: taken off again after)."""
    for code, name in VISITOR_CITIES.items():
        db.session.add(Issuer(code=code, name=name, local=False))
    db.session.commit()
    yield
    db.session.rollback()
    db.session.execute(delete(Issuer).where(Issuer.code.in_(VISITOR_CITIES)))
    db.session.commit()


def test_rollup_answers_equal_a_direct_count_through_voids_late_and_live_redemptions(rolled, client, auth_header):
    now = datetime.now(timezone.utc)
    perks = list(db.session.scalars(select(Perk).order_by(Perk.id)))[:4]
    # Three holders of this city (one a company) and, every fifth, a visitor's pass; every fourth offline.
    # Visitors come from two cities; rows from before the issuing city was recorded have none (a
    # visitor's, and a holder's of this city every seventh).
    people = list(db.session.scalars(select(CreditSubject).order_by(CreditSubject.id)))[:3]
    local = db.session.scalar(select(Issuer.code).where(Issuer.local.is_(True)))
    assert len(people) == 3 and any(p.area_id is not None for p in (perk.partner for perk in perks))
    cities = [*VISITOR_CITIES, None]

    def issuer(n: int) -> int | None:
        return cities[n // 5 % 3] if n % 5 == 4 else None if n % 7 == 6 else local
    ids = [record(perk, day, tier_level=1 + n % 2, amount_fen=1000 + 7 * n, recorded_at=now - timedelta(hours=2),
                  subject_id=None if n % 5 == 4 else people[n % 3].id,
                  holder_kind="company" if n % 3 == 2 else "person", offline=n % 4 == 0, issuer_code=issuer(n))
           for n, (perk, day) in enumerate(itertools.product(perks, DAYS))]
    assert {row["key"] for row in service.stats(group_by="issuer")} == {str(local), "130100", "110000", "unknown"}
    db.session.commit()
    redemptions.void(redemption_id=ids[0], actor="office:1", reason="before the rollup",
                     now=now - timedelta(hours=1))
    assert_exact()  # nothing rolled up yet: all live

    first = rollup.roll_up(now=now - timedelta(minutes=30))
    assert first["days"] == len(DAYS) and first["redemption_id"] == max(ids)
    assert db.session.scalar(select(DailyStats.redemptions).where(DailyStats.local_day == DAYS[0]).limit(1))
    assert_exact()

    # After the rollup: a void of a rolled-up day, every redemption of one partner's day voided (its
    # group must vanish, not show zero), an offline redemption synced late into a rolled-up day, today's.
    redemptions.void(redemption_id=ids[5], actor="office:1", reason="after", now=now - timedelta(minutes=20))
    for voided in (i for i, (perk, day) in zip(ids, itertools.product(perks, DAYS)) if perk == perks[3]):
        redemptions.void(redemption_id=voided, actor="office:1", reason="all", now=now - timedelta(minutes=20))
    late = record(perks[1], DAYS[1], tier_level=2, amount_fen=4321, recorded_at=now - timedelta(minutes=10))
    db.session.commit()
    redeem(client, auth_header, 8800)
    assert_exact()
    assert perks[3].partner.name not in {r["key"] for r in service.stats(group_by="partner")}

    second = rollup.roll_up(now=now + timedelta(minutes=2))
    today = db.session.scalar(select(Redemption.local_day).where(Redemption.id > late))
    assert second["days"] == len({DAYS[0], DAYS[1], DAYS[2], DAYS[3], today})  # only the days touched
    assert second["redemption_id"] > late
    assert_exact()
    assert rollup.roll_up(now=now + timedelta(minutes=2))["days"] == 0  # nothing touched since


def test_statistics_read_the_rollups_not_the_redemptions(rolled):
    """Rolled-up days are answered from the rollups: whole months from monthly_stats, the days around
    them from daily_stats, days from day_totals. Changing a rollup changes the answer."""
    now = datetime.now(timezone.utc)
    perk = db.session.scalars(select(Perk).order_by(Perk.id)).first()
    record(perk, DAYS[0], tier_level=1, amount_fen=500, recorded_at=now - timedelta(hours=1))
    db.session.commit()
    rollup.roll_up(now=now)
    for table, more in ((DailyStats, 1), (MonthlyStats, 10), (DayTotals, 100)):
        db.session.execute(update(table).values(redemptions=table.redemptions + more))
    db.session.commit()
    october = {"day_from": date(2026, 10, 1), "day_to": date(2026, 10, 31)}
    assert service.stats(group_by="partner", **october)[0]["redemptions"] == 11
    assert service.stats(group_by="tier", day_from=DAYS[0], day_to=DAYS[1])[0]["redemptions"] == 2
    assert service.stats(group_by="day", **october)[0]["redemptions"] == 101


def test_the_rollup_leaves_what_may_still_be_committing_to_the_live_count(rolled):
    """Rows younger than the settle time are not rolled up: an earlier id may still be on its way."""
    now = datetime.now(timezone.utc)
    perk = db.session.scalars(select(Perk).order_by(Perk.id)).first()
    old = record(perk, DAYS[0], tier_level=1, amount_fen=500, recorded_at=now - rollup.SETTLE - timedelta(seconds=1))
    record(perk, DAYS[1], tier_level=1, amount_fen=500, recorded_at=now)
    db.session.commit()
    assert rollup.roll_up(now=now) == {"days": 1, "redemption_id": old, "voids_through": now - rollup.SETTLE}
    assert_exact()


def test_flask_stats_rollup_command(rolled, runner):
    result = runner.invoke(args=["stats", "rollup"])
    assert result.exit_code == 0, result.output
    assert "已汇总" in result.output


def test_a_rollup_committing_during_a_count_makes_it_count_again(rolled):
    """The marks a count was given must be those its statement saw; a rollup between them means again."""
    now = datetime.now(timezone.utc)
    perk = db.session.scalars(select(Perk).order_by(Perk.id)).first()
    record(perk, DAYS[0], tier_level=1, amount_fen=500, recorded_at=now - timedelta(hours=1))
    db.session.commit()
    given = []

    def count(marks):
        given.append(marks)
        if len(given) == 1:
            rollup.roll_up(now=now)  # as if another process's rollup committed meanwhile
        return service.stats(group_by="day")

    assert rollup.read(db.session, count) == [{**row, "beneficiaries": None} for row in direct("day", None, None)]
    assert len(given) == 2 and given[0] != given[1] == rollup.marks(db.session)


def test_a_start_after_the_end_is_refused_with_its_own_code(client, auth_header):
    with pytest.raises(DomainError) as refused:
        service.stats(group_by="area", day_from=DAYS[3], day_to=DAYS[2])
    assert refused.value.code is ErrorCode.DATE_RANGE_INVALID
    for path in ("/api/office/stats", "/api/office/stats.csv"):
        answer = client.get(path, query_string={"group_by": "tier", "from": "2026-11-02", "to": "2026-11-01"},
                            headers=auth_header("office-analyst"))
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
        assert answer.json["code"] == "date_range_invalid" and answer.json["field"] == "from"
        assert answer.json["message"] == "开始日期不能晚于结束日期，请重新选择"
