"""The office's API tests: a fixture that signs in as the office and forgets what a test made."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from backend.extensions import db
from backend.merchants.models import HolidayCalendarDay, Partner, Perk, Scenario


@pytest.fixture
def office(app, client, auth_header):
    """Forget the partners, perks, scenarios and calendar days a test made through the API."""
    with app.app_context():
        marks = {model: db.session.scalar(select(func.max(model.id))) or 0
                 for model in (Partner, Perk, Scenario, HolidayCalendarDay)}
        yield {"admin": auth_header("office-admin"), "analyst": auth_header("office-analyst")}
        db.session.rollback()
        for table in ("redemption_conflicts", "failed_attempts", "redemptions"):
            db.session.execute(db.text(f"delete from {table}"))
        for model in (Perk, HolidayCalendarDay, Partner, Scenario):
            db.session.execute(delete(model).where(model.id > marks[model]))
        db.session.commit()
