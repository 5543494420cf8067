"""backend/driver.py: one statement through the driver keeps what SQLAlchemy's execution path gave
its callers (autocommit, SQLAlchemy's exception classes, a broken connection dropped from the pool,
listeners told of the statement)."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError

from backend import driver
from backend.extensions import db

from .conftest import TEST_DB

requires_postgresql = pytest.mark.skipif(TEST_DB != "postgresql", reason="a server that drops connections: PostgreSQL")


def test_a_statement_is_committed_at_once_and_answers_its_first_value(app):
    client_id = str(uuid.uuid4())
    with app.app_context():
        got = driver.first_value(text("insert into audit_log (at, actor, action, target, detail) "
                                      "values (current_timestamp, :actor, 'test.driver', :target, '{}') returning target"),
                                 {"actor": "test", "target": client_id})
        assert got == client_id
    with app.app_context():  # another connection sees it: nothing was left in an open transaction
        assert db.session.execute(text("select count(*) from audit_log where target = :t"), {"t": client_id}).scalar() == 1
        assert driver.first_value(text("select 1 where 1 = 0"), {}) is None
        db.session.execute(text("delete from audit_log where target = :t"), {"t": client_id})
        db.session.commit()


def test_driver_errors_arrive_as_sqlalchemys_classes_and_listeners_see_the_statement(app):
    seen = []
    with app.app_context():
        engine = db.engine
        listener = lambda conn, cursor, statement, *args: seen.append(statement)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            with pytest.raises(IntegrityError):  # NOT NULL: every other column of a redemption is missing
                driver.first_value(text("insert into redemptions (client_id) values (:c)"), {"c": "x"})
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert seen == ["insert into redemptions (client_id) values (?)" if engine.dialect.name == "sqlite"
                        else "insert into redemptions (client_id) values (%(c)s)"]
        assert driver.first_value(text("select 2"), {}) == 2  # the connection went back to the pool usable


@requires_postgresql
def test_a_connection_the_server_dropped_is_invalidated_and_the_next_statement_works(app, make_app):
    other = make_app()
    with other.app_context():
        pid = driver.first_value(text("select pg_backend_pid()"), {})
        with app.app_context():
            db.session.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
            db.session.commit()
        with pytest.raises(OperationalError) as caught:
            driver.first_value(text("select 1"), {})
        assert caught.value.connection_invalidated
        assert driver.first_value(text("select pg_backend_pid()"), {}) != pid
