"""Distinct beneficiaries from the rollups' HyperLogLog sketches (backend/office/sketches.py): where the
database has them, a range of more redemptions than the exact limit is answered from the sketches of
the rolled-up days united with the live rows' in one statement, within HLL's error of the exact count,
and said to be approximate (JSON, CSV). A small range, SQLite and PostgreSQL without the extension
count exactly. Under CI=true the PostgreSQL pass must have the extension (scripts/test installs it)."""
from __future__ import annotations

import csv
import io
import math
import secrets
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, insert, select, text

from backend.credit.models import CreditSubject
from backend.extensions import db
from backend.merchants.models import Perk, Redemption
from backend.office import rollup, service, sketches
from tests.helpers import IN_CI, TEST_DB

DAYS = [date(2026, 9, 28) + timedelta(days=n) for n in range(6)]  # the month's end and the next's start
RANGE = {"day_from": DAYS[0], "day_to": DAYS[-1]}
GROUPINGS = ("partner", "tier", "day", "holder_kind")
# Four standard errors of a sketch of 2^11 registers: a miss beyond it is a bug, not bad luck (p < 1e-4).
TOLERANCE = 4 * 1.04 / math.sqrt(2 ** sketches.LOG2M)
PEOPLE, NEW, ROLLED, LIVE = 3000, 300, 4000, 600


@pytest.fixture
def sketched(rollups):
    """The PostgreSQL pass's database has the sketches, or the test cannot say anything (CI: it fails)."""
    if TEST_DB != "postgresql":
        pytest.skip("sketches exist on PostgreSQL only (the SQLite pass checks the exact path)")
    if not sketches.available(db.session):
        message = "the hll extension is not installed on this PostgreSQL (Debian: postgresql-15-hll)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)


@pytest.fixture
def crowd(rollups):
    """PEOPLE holders of this city; ROLLED redemptions of DAYS by all but NEW of them, rolled up, then LIVE
    more recorded after the rollup by the NEW holders, seen nowhere before. Removed afterwards."""
    now = datetime.now(timezone.utc)
    marker = f"sketch-{secrets.token_hex(4)}-"
    db.session.execute(insert(CreditSubject), [
        {"kind": "company" if n % 10 == 0 else "person", "identity_hash": f"{marker}{n}", "score": 1100,
         "red_listed": False, "black_listed": False, "tier_level": 1, "source_updated_at": now, "updated_at": now}
        for n in range(PEOPLE)])
    people = list(db.session.scalars(select(CreditSubject.id).where(CreditSubject.identity_hash.like(f"{marker}%"))
                                     .order_by(CreditSubject.id)))
    perks = list(db.session.scalars(select(Perk).order_by(Perk.id)))[:3]

    def rows(numbers, recorded_at, holders):
        return [{"client_id": str(uuid.uuid4()), "pass_id": secrets.token_hex(16), "perk_id": perks[n % 3].id,
                 "partner_id": perks[n % 3].partner_id, "subject_id": holders[(n * 7919) % len(holders)],
                 "holder_kind": "company" if (n * 7919) % len(holders) % 10 == 0 else "person",
                 "tier_level": 1 + n % 2, "amount_fen": 1000, "payable_fen": 980, "discount_fen": 20,
                 "status": "recorded", "offline": False, "scanned_at": recorded_at, "recorded_at": recorded_at,
                 "local_day": DAYS[n % len(DAYS)]} for n in numbers]
    db.session.execute(insert(Redemption), rows(range(ROLLED), now - timedelta(hours=1), people[:-NEW]))
    db.session.commit()
    rollup.roll_up(now=now)
    db.session.execute(insert(Redemption), rows(range(ROLLED, ROLLED + LIVE), now, people[-NEW:]))
    db.session.commit()
    yield
    db.session.rollback()
    db.session.execute(delete(Redemption).where(Redemption.subject_id.in_(people)))
    db.session.execute(delete(CreditSubject).where(CreditSubject.id.in_(people)))
    db.session.commit()


def exact(group_by: str) -> tuple[dict, int]:
    """The beneficiaries of RANGE counted from the redemptions: per group, and over all of them."""
    rows = service.stats(group_by=group_by, raw=True, **RANGE)
    total = db.session.scalar(select(func.count(func.distinct(Redemption.subject_id))).where(
        Redemption.status == "recorded", Redemption.local_day.between(DAYS[0], DAYS[-1])))
    return {row["key"]: row["beneficiaries"] for row in rows}, total


def test_beyond_the_exact_limit_the_sketches_answer_within_their_error(sketched, crowd):
    for group_by in GROUPINGS:
        per_group, total = exact(group_by)
        answer = service.report(group_by=group_by, beneficiaries=True, exact_up_to=0, **RANGE)
        assert answer["beneficiaries_approximate"] is True
        assert answer["total"]["redemptions"] == ROLLED + LIVE  # the sums stay exact
        estimated = {row["key"]: row["beneficiaries"] for row in answer["rows"]}
        assert estimated.keys() == per_group.keys()
        for key, count in per_group.items():
            assert abs(estimated[key] - count) <= TOLERANCE * count, (group_by, key, estimated[key], count)
        assert abs(answer["total"]["beneficiaries"] - total) <= TOLERANCE * total, (group_by, total)
        # At or under the limit the same range is counted exactly.
        answer = service.report(group_by=group_by, beneficiaries=True, exact_up_to=ROLLED + LIVE, **RANGE)
        assert answer["beneficiaries_approximate"] is False
        assert {row["key"]: row["beneficiaries"] for row in answer["rows"]} == per_group
        assert answer["total"]["beneficiaries"] == total


def test_the_live_rows_are_united_with_the_rolled_up_sketches(sketched, crowd):
    """Holders seen only after the rollup count: the estimate of a day is that of its rolled-up sketch
    and more, within the error of the exact count with the new holders."""
    day = DAYS[0]
    before = db.session.scalar(text(
        "select hll_cardinality(hll_union_agg(subjects)) from day_totals where local_day = :day"), {"day": day})
    answer = service.report(group_by="day", beneficiaries=True, exact_up_to=0, day_from=day, day_to=day)
    exact_now = exact("day")[0][day.isoformat()]
    assert answer["beneficiaries_approximate"] is True
    assert answer["total"]["beneficiaries"] > round(before)
    assert abs(answer["total"]["beneficiaries"] - exact_now) <= TOLERANCE * exact_now


def test_the_api_and_the_csv_say_the_figure_is_approximate(sketched, crowd, app, client, auth_header, monkeypatch):
    monkeypatch.setitem(app.config, "STATS_EXACT_BENEFICIARIES_UP_TO", 0)
    query = {"group_by": "tier", "from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat()}
    answer = client.get("/api/office/stats", query_string={**query, "beneficiaries": "true"},
                        headers=auth_header("office-analyst")).json
    assert answer["beneficiaries_approximate"] is True
    response = client.get("/api/office/stats.csv", query_string=query, headers=auth_header("office-analyst"))
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[-1][0] == "合计" and rows[-1][4] == f"约 {answer['total']['beneficiaries']}"
    assert all(row[4].startswith("约 ") for row in rows[1:])
    assert client.get("/api/office/stats", query_string=query, headers=auth_header("office-analyst")
                      ).json["beneficiaries_approximate"] is None  # not asked, not counted


def test_without_sketches_every_count_is_exact(crowd, app, client, auth_header, monkeypatch):
    """SQLite (and PostgreSQL without the extension) count exactly whatever the limit: nothing to say 约 about."""
    if sketches.available(db.session):
        pytest.skip("this database has sketches: the tests above cover it")
    monkeypatch.setitem(app.config, "STATS_EXACT_BENEFICIARIES_UP_TO", 0)
    per_group, total = exact("partner")
    answer = client.get("/api/office/stats", query_string={"group_by": "partner", "from": DAYS[0].isoformat(),
                                                           "to": DAYS[-1].isoformat(), "beneficiaries": "true"},
                        headers=auth_header("office-analyst")).json
    assert answer["beneficiaries_approximate"] is False
    assert {row["key"]: row["beneficiaries"] for row in answer["rows"]} == per_group
    assert answer["total"]["beneficiaries"] == total
