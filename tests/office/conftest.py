"""The office's API tests: a fixture that signs in as the office and forgets what a test made, and one
that puts the statistics' rollups back as the migration left them."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, func, select, update

from backend.extensions import db
from backend.merchants.models import HolidayCalendarDay, HolidayCalendarYear, Partner, Perk, Scenario
from backend.office.models import DailyStats, DayTotals, MonthlyStats, StatsRollup


@pytest.fixture
def office(app, client, auth_header):
    """Forget the partners, perks, scenarios, calendar days and years a test made through the API."""
    with app.app_context():
        marks = {model: db.session.scalar(select(func.max(model.id))) or 0
                 for model in (Partner, Perk, Scenario, HolidayCalendarDay, HolidayCalendarYear)}
        yield {"admin": auth_header("office-admin"), "analyst": auth_header("office-analyst")}
        db.session.rollback()
        for table in ("redemption_conflicts", "failed_attempts", "redemptions"):
            db.session.execute(db.text(f"delete from {table}"))
        for model in (Perk, HolidayCalendarDay, HolidayCalendarYear, Partner, Scenario):
            db.session.execute(delete(model).where(model.id > marks[model]))
        db.session.commit()


@pytest.fixture
def rollups(ctx):
    """The rollup tables are not among conftest's cleaned tables: after the test, empty again and never run."""
    yield
    db.session.rollback()
    for table in (DailyStats, MonthlyStats, DayTotals):
        db.session.execute(delete(table))
    db.session.execute(update(StatsRollup).values(redemption_id=0, voids_through=datetime(1970, 1, 1, tzinfo=timezone.utc),
                                                  ran_at=None))
    db.session.commit()
