"""Migrations and models agree: the schema comes only from migrations, and they cover every model."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from backend.extensions import db


def test_models_have_no_change_missing_from_migrations(app):
    with app.app_context(), db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_demo_commands_refuse_outside_demo_mode(make_app):
    app = make_app(DEMO=False)
    result = app.test_cli_runner().invoke(args=["demo", "token", "citizen"])
    assert result.exit_code != 0 and "演示模式" in result.output
