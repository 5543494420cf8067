"""Fixtures for the pass: a private, demo-seeded database for tests that rotate and revoke keys.

Key ring tests revoke active keys; doing that on the session's shared database would stop every
other domain's tests from issuing passes, so they get a database (and a Redis prefix) of their own,
on the same server kind as the rest of the run (TEST_DB).
"""
from __future__ import annotations

import secrets
import uuid

import pytest
import redis
from sqlalchemy import delete

from backend import create_app
from backend.auth.models import CitizenAccount, CompanyRepresentative
from backend.auth.privacy import NOTICE_VERSION
from backend.auth.service import Principal, issue_access_token
from backend.credit.models import CreditSubject
from backend.extensions import db
from tests.helpers import app_maker, dispose, fresh_database, test_config


@pytest.fixture(scope="module")
def ring_database(tmp_path_factory, redis_url):
    with fresh_database(tmp_path_factory, "ring") as url:
        prefix = f"xymtest:ring:{uuid.uuid4().hex[:8]}:"
        first = create_app(test_config(url, redis_url, prefix))
        with first.app_context():
            from flask_migrate import upgrade

            upgrade()
            result = first.test_cli_runner().invoke(args=["demo", "seed"])
            assert result.exit_code == 0, result.output
        dispose(first)
        yield url, prefix
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)


@pytest.fixture
def ring_app(ring_database, redis_url):
    """ring_app(**overrides) -> an app on the private database; each call is like one more gunicorn worker."""
    url, prefix = ring_database
    with app_maker(url, redis_url, prefix) as make:
        yield make


class Header(dict):
    """Request headers that also remember whose they are."""

    def __init__(self, headers: dict, *, account_id: int):
        super().__init__(headers)
        self.account_id = account_id


@pytest.fixture
def citizen(app):
    """citizen(subject=..., company=...) -> bearer header of a fresh account; everything made is removed."""
    made_accounts, made_subjects = [], []

    def _citizen(*, subject: dict | None = None, company: dict | None = None) -> Header:
        with app.app_context():
            person = None
            if subject is not None:
                person = CreditSubject(**{"kind": "person", "identity_hash": secrets.token_hex(32), **subject})
                db.session.add(person)
                db.session.flush()
                made_subjects.append(person.id)
            account = CitizenAccount(phone=f"199{secrets.randbelow(10**8):08d}",
                                     subject_id=person.id if person else None, privacy_version=NOTICE_VERSION)
            db.session.add(account)
            db.session.flush()
            made_accounts.append(account.id)
            if company is not None:
                firm = CreditSubject(kind="company", identity_hash=secrets.token_hex(32), **company)
                db.session.add(firm)
                db.session.flush()
                made_subjects.append(firm.id)
                db.session.add(CompanyRepresentative(account_id=account.id, company_subject_id=firm.id))
            db.session.commit()
            token = issue_access_token(secret=app.config["SECRET_KEY"], minutes=10,
                                       principal=Principal(kind="citizen", id=account.id, role="citizen"))
        return Header({"Authorization": f"Bearer {token}"}, account_id=made_accounts[-1])

    yield _citizen
    with app.app_context():
        db.session.execute(delete(CompanyRepresentative).where(CompanyRepresentative.account_id.in_(made_accounts)))
        db.session.execute(delete(CitizenAccount).where(CitizenAccount.id.in_(made_accounts)))
        db.session.execute(delete(CreditSubject).where(CreditSubject.id.in_(made_subjects)))
        db.session.commit()
