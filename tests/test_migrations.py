"""Migrations and models agree: the schema comes only from migrations, and they cover every model."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from backend.extensions import db
from backend.office.sketches import include_object


def test_models_have_no_change_missing_from_migrations(app):
    with app.app_context(), db.engine.connect() as connection:
        # PostgreSQL's monthly partitions of redemptions differ as backend/merchants/partitions.py says, and
        # its rollups carry sketches (backend/office/sketches.py) where it has the hll extension.
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_demo_commands_refuse_outside_demo_mode(make_app):
    app = make_app(DEMO=False)
    result = app.test_cli_runner().invoke(args=["demo", "token", "citizen"])
    assert result.exit_code != 0 and "演示模式" in result.output


def test_a_database_with_redemptions_migrates_with_foreign_keys_enforced_before_and_after(
        tmp_path_factory, redis_url, redis_prefix):
    """Batch migrations rebuild tables on SQLite (0004 rebuilds perks, which redemptions refer to):
    they run with enforcement off for their own connection, check every key at the end, and leave
    enforcement on for the connections that follow."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from tests.helpers import database_at

    with database_at(tmp_path_factory, redis_url, redis_prefix, label="migrate", revision="0003") as app:
        with app.app_context():
            db.session.execute(text(
                "insert into redemptions (client_id, pass_id, perk_id, partner_id, subject_id, holder_kind, "
                "tier_level, status, offline, scanned_at, recorded_at, local_day) "
                "select 'c-1', 'p-1', perks.id, perks.partner_id, (select min(id) from credit_subjects), 'person', "
                "1, 'recorded', false, current_timestamp, current_timestamp, current_date from perks limit 1"))
            db.session.commit()
            upgrade()
            assert db.session.execute(text("select count(*) from redemptions")).scalar() == 1
            if db.engine.dialect.name == "sqlite":
                assert db.session.execute(text("pragma foreign_keys")).scalar() == 1
            with pytest.raises(IntegrityError):  # a redemption of a perk that does not exist
                db.session.execute(text("update redemptions set perk_id = -1"))
                db.session.flush()
            db.session.rollback()
