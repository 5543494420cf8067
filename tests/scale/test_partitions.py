"""Monthly partitions of redemptions and failed attempts (migration 0019, backend/merchants/partitions.py).

On PostgreSQL: the migration converts tables that already hold rows of several months without losing
one (and back); `flask partitions ensure/detach/list` make, show and detach months, ensure moving rows
that fell into the default partition. On both databases: a pass issued before midnight at the end of a
month and scanned after it is still redeemed only once per perk (on PostgreSQL its two scans meet in
one partition because a redemption's day is its pass's issue day).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from backend.extensions import db
from backend.merchants import partitions
from backend.merchants.models import Redemption
from backend.timeutil import SHANGHAI
from tests.helpers import TEST_DB, database_at, refused
from tests.merchants.conftest import Shop

pytestmark = pytest.mark.xdist_group("partitions")
on_postgresql = pytest.mark.skipif(TEST_DB != "postgresql", reason="partitions exist on PostgreSQL only")

# Months the old rows fall in, relative to this month: two back, one back, this one.
MONTHS_BACK = (2, 1, 0)


def months_back(count: int) -> date:
    month = partitions.month_of(datetime.now(SHANGHAI).date())
    for _ in range(count):
        month = (month - timedelta(days=1)).replace(day=1)
    return month


@pytest.fixture
def old_database(tmp_path_factory, redis_url, redis_prefix):
    """Each test's own database, migrated to 0011 (before partitions) holding redemptions of three months, an
    objection and a conflict pointing at them, and failed attempts; then migrated to the head."""
    if TEST_DB != "postgresql":
        pytest.skip("partitions exist on PostgreSQL only")
    from flask_migrate import upgrade

    with database_at(tmp_path_factory, redis_url, redis_prefix, label="partitions", revision="0011") as app:
        with app.app_context():
            db.session.execute(text("insert into citizen_accounts (created_at, disabled) "
                                    "values (current_timestamp, false)"))
            for back in MONTHS_BACK:
                day = months_back(back) + timedelta(days=1)
                db.session.execute(text(
                    "insert into redemptions (client_id, pass_id, perk_id, partner_id, subject_id, holder_kind, "
                    "tier_level, status, offline, scanned_at, recorded_at, local_day) "
                    "select 'c-' || n || '-' || :back, 'p-' || n || '-' || :back, perks.id, perks.partner_id, "
                    "(select min(id) from credit_subjects), 'person', 1, 'recorded', false, :at, :at, :day "
                    "from perks, generate_series(1, 100) n"),
                    {"back": back, "day": day, "at": datetime(day.year, day.month, day.day, 4)})
                db.session.execute(text(
                    "insert into failed_attempts (at, code, offline) select :at, 'pass_expired', false "
                    "from generate_series(1, 10)"), {"at": datetime(day.year, day.month, day.day, 4)})
            db.session.execute(text(
                "insert into objections (account_id, kind, text, redemption_id, status, created_at, due_at) "
                "select (select min(id) from citizen_accounts), 'redemption', '未享受优惠', min(id), 'open', "
                "current_timestamp, current_timestamp from redemptions"))
            db.session.commit()
            before = db.session.execute(text("select id, client_id, local_day from redemptions order by id")).all()
            db.session.commit()  # a read left open would hold a lock that the migration's waits for
            upgrade()
        yield app, before


def where_rows_are(table: str) -> dict[str, int]:
    rows = db.session.execute(text(f"select tableoid::regclass::text, count(*) from {table} group by 1")).all()
    db.session.commit()  # no lock left held: the partitions commands' DDL would wait for it
    return dict(rows)


@on_postgresql
def test_the_migration_moves_every_row_into_its_months_partition(old_database):
    app, before = old_database
    with app.app_context():
        after = db.session.execute(text("select id, client_id, local_day from redemptions order by id")).all()
        assert after == before and len(after) == 100 * len(MONTHS_BACK)
        spread = where_rows_are("redemptions")
        assert spread == {f"redemptions_p{months_back(back):%Y_%m}": 100 for back in MONTHS_BACK}
        assert sum(where_rows_are("failed_attempts").values()) == 10 * len(MONTHS_BACK)
        assert all(name.startswith("failed_attempts_p") for name in where_rows_are("failed_attempts"))
        # The sequence goes on where it was, and the objection still names its redemption.
        next_id = db.session.execute(text("select nextval('redemptions_id_seq')")).scalar()
        assert next_id == before[-1][0] + 1
        assert db.session.execute(text(
            "select count(*) from objections o join redemptions r on r.id = o.redemption_id")).scalar() == 1
        # The unique keys still refuse a second use of a pass at a perk, within its month.
        with pytest.raises(IntegrityError, match="pass_id_perk_id"):
            db.session.execute(text(
                "insert into redemptions (client_id, pass_id, perk_id, partner_id, subject_id, holder_kind, tier_level, "
                "status, offline, scanned_at, recorded_at, local_day) select 'another', pass_id, perk_id, partner_id, "
                "subject_id, holder_kind, tier_level, status, offline, scanned_at, recorded_at, local_day "
                "from redemptions order by id limit 1"))
        db.session.rollback()


@on_postgresql
def test_the_partitions_commands_make_show_and_detach_months(old_database):
    app, _ = old_database
    cli = app.test_cli_runner()
    with app.app_context():
        far = partitions.month_of(datetime.now(SHANGHAI).date() + timedelta(days=31 * 8))
        # A redemption on a month nobody made yet is still recorded (the default partition) ...
        db.session.execute(text(
            "insert into redemptions (client_id, pass_id, perk_id, partner_id, subject_id, holder_kind, tier_level, "
            "status, offline, scanned_at, recorded_at, local_day) select 'far', 'p-far', perk_id, partner_id, "
            "subject_id, holder_kind, tier_level, status, offline, scanned_at, recorded_at, :day "
            "from redemptions order by id limit 1"), {"day": far + timedelta(days=3)})
        db.session.commit()
        assert where_rows_are("redemptions")["redemptions_default"] == 1

        result = cli.invoke(args=["partitions", "ensure", "--months-ahead", "9"])
        assert result.exit_code == 0, result.output
        assert f"redemptions_p{far:%Y_%m}" in result.stdout and f"failed_attempts_p{far:%Y_%m}" in result.stdout
        # ... and ensure moves it into its month when it makes that month.
        spread = where_rows_are("redemptions")
        assert spread.get("redemptions_default", 0) == 0 and spread[f"redemptions_p{far:%Y_%m}"] == 1
        again = cli.invoke(args=["partitions", "ensure", "--months-ahead", "9"])
        assert again.exit_code == 0 and "新建分区 0 个" in again.stdout

        listed = cli.invoke(args=["partitions", "list"]).stdout
        assert f"redemptions_p{months_back(2):%Y_%m}" in listed and "redemptions_default\tDEFAULT" in listed

        result = cli.invoke(args=["partitions", "detach", "--before", f"{months_back(1):%Y-%m}"])
        assert result.exit_code == 0, result.output
        oldest = months_back(2)
        assert f"redemptions_p{oldest:%Y_%m}" in result.stdout and f"failed_attempts_p{oldest:%Y_%m}" in result.stdout
        db.session.rollback()
        # The detached month is no longer read, and its table is still there to archive.
        assert db.session.execute(text("select count(*) from redemptions")).scalar() == 100 * 2 + 1
        assert db.session.execute(text(f"select count(*) from redemptions_p{oldest:%Y_%m}")).scalar() == 100
        assert cli.invoke(args=["partitions", "detach", "--before", "2026-13"]).exit_code != 0


@on_postgresql
def test_the_downgrade_gives_back_plain_tables_with_every_row(old_database):
    from flask_migrate import downgrade

    app, before = old_database
    with app.app_context():
        count = db.session.execute(text("select count(*) from redemptions")).scalar()
        assert count == len(before)
        db.session.commit()
        downgrade(revision="0011")
        assert db.session.execute(text("select count(*) from redemptions")).scalar() == count
        assert not partitions.is_partitioned(db.session.connection(), "redemptions")
        assert db.session.execute(text(
            "select count(*) from pg_constraint where conname = 'fk_objections_redemption_id_redemptions'")).scalar()
        db.session.commit()


def test_the_partitions_commands_do_nothing_on_sqlite(app):
    if TEST_DB != "sqlite":
        pytest.skip("SQLite's answer")
    result = app.test_cli_runner().invoke(args=["partitions", "ensure"])
    assert result.exit_code == 0 and "SQLite" in result.stdout


@pytest.fixture
def shop(app):
    with app.app_context():
        made = Shop(app)
        yield made
        made.remove()


def test_a_pass_issued_before_the_months_midnight_and_scanned_after_is_redeemed_once(shop):
    """Issued 20 s before the first midnight of next month, scanned 10 s before it and again 20 s
    after it (another device, another client id): the second scan is refused, and the one row
    counts on the pass's day, in the month the pass was issued."""
    perk, holder = shop.perk(), shop.holder()
    next_month = partitions.next_month(partitions.month_of(datetime.now(SHANGHAI).date()))
    midnight = datetime(next_month.year, next_month.month, 1, tzinfo=SHANGHAI).astimezone(timezone.utc)
    token = shop.pass_for(holder, at=midnight - timedelta(seconds=20))
    before, after = midnight - timedelta(seconds=10), midnight + timedelta(seconds=20)
    shop.redeem(token, perk, scanned_at=before, now=before)
    refused("pass_already_used", shop.redeem, token, perk, scanned_at=after, now=after, device_id=shop.devices[1].id,
            staff_id=None)
    rows = db.session.execute(select(Redemption.local_day).where(Redemption.perk_id == perk)).scalars().all()
    assert rows == [(midnight - timedelta(seconds=1)).astimezone(SHANGHAI).date()]
    if TEST_DB == "postgresql":
        last_month = partitions.month_of(rows[0])
        assert where_rows_are("redemptions").get(f"redemptions_p{last_month:%Y_%m}", 0) >= 1
    # Scanned only after midnight, the pass still counts on the day it was issued.
    other = shop.perk()
    shop.redeem(token, other, scanned_at=after, now=after)
    assert db.session.scalar(select(Redemption.local_day).where(Redemption.perk_id == other)) == rows[0]
