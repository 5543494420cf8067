"""backend/merchants/store.py and the autocommit engine under it: a row is recorded at once or
nothing is written, errors arrive as SQLAlchemy's classes, and the pool does what a pool must
(a dropped connection is not used again, pre-ping, a bound on connections in use)."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, TimeoutError as PoolTimeout

from backend.credit.models import CreditSubject
from backend.extensions import autocommit, db, read_outside_transaction
from backend.merchants.models import Redemption
from backend.merchants.store import COLUMNS, store
from tests.helpers import TEST_DB

requires_postgresql = pytest.mark.skipif(TEST_DB != "postgresql", reason="a server that drops connections: PostgreSQL")


def row_like(redemption: Redemption, **changes) -> dict:
    return {**{column.key: getattr(redemption, column.key) for column in COLUMNS}, "client_id": str(uuid.uuid4()),
            **changes}


def recorded(**where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Redemption).filter_by(**where))


def test_a_row_is_recorded_at_once_or_nothing_is_written(shop):
    holder, perk = shop.holder(tier_level=2), shop.perk()
    first = shop.redeem(shop.pass_for(holder), perk).redemption
    again = row_like(first, pass_id="f" * 32)
    new_id = store.insert(again)
    assert new_id is not None and recorded(id=new_id) == 1  # committed: the session's connection sees it
    assert store.insert(dict(again, pass_id="e" * 32)) is None  # its client id is taken
    assert store.insert(row_like(first)) is None  # this pass is recorded at this perk
    assert store.insert(row_like(first, pass_id="d" * 32, tier_level=3)) is None  # the holder is at tier 2
    db.session.get(CreditSubject, holder).black_listed = True
    db.session.commit()
    assert store.insert(row_like(first, pass_id="c" * 32)) is None  # black-listed now
    assert store.insert(row_like(first, pass_id="b" * 32, subject_id=None)) is not None  # a partner city's pass
    assert recorded(perk_id=perk) == 3


def test_an_error_arrives_as_sqlalchemys_class_and_the_connection_stays_usable(shop):
    first = shop.redeem(shop.pass_for(shop.holder()), shop.perk()).redemption
    with pytest.raises(IntegrityError):  # no such device
        store.insert(row_like(first, pass_id="a" * 32, device_id=987654321))
    assert store.insert(row_like(first, pass_id="a" * 32)) is not None


def _backend_pid() -> int:
    return read_outside_transaction(text("select pg_backend_pid()"))[0][0]


def _terminate(app, pid: int) -> None:
    with app.app_context():
        db.session.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
        db.session.commit()


@requires_postgresql
def test_a_connection_the_server_dropped_is_not_used_again(app, make_app, shop):
    first = shop.redeem(shop.pass_for(shop.holder()), shop.perk()).redemption
    with make_app().app_context():
        pid = _backend_pid()
        _terminate(app, pid)
        with pytest.raises(OperationalError) as caught:
            store.insert(row_like(first, pass_id="9" * 32))
        assert caught.value.connection_invalidated
        assert store.insert(row_like(first, pass_id="9" * 32)) is not None
        assert _backend_pid() != pid


@requires_postgresql
def test_with_pre_ping_an_idle_connection_the_server_dropped_is_replaced_before_use(app, make_app):
    with make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True}).app_context():
        pid = _backend_pid()
        _terminate(app, pid)
        assert _backend_pid() != pid  # no error reaches the caller: the dead one was found and replaced


@requires_postgresql
def test_autocommit_connections_in_use_are_bounded(make_app):
    with make_app(DATABASE_AUTOCOMMIT_CONNECTIONS=2, SQLALCHEMY_ENGINE_OPTIONS={"pool_timeout": 0.2}).app_context():
        with autocommit.engine.connect(), autocommit.engine.connect():
            with pytest.raises(PoolTimeout):  # both in use: a third statement waits, then gives up
                _backend_pid()
        assert _backend_pid()  # given back: usable again
