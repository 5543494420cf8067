"""backend/driver.py: one statement through the driver keeps what SQLAlchemy's execution path gave
its callers (autocommit, SQLAlchemy's exception classes, a broken connection dropped from the pool,
listeners told of the statement)."""
from __future__ import annotations

import os
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


def _backend_pid():
    return driver.first_value(text("select pg_backend_pid()"), {})


def _open_backends(app, pids) -> set:
    with app.app_context():
        rows = db.session.execute(text("select pid from pg_stat_activity where pid = any(:pids)"), {"pids": list(pids)})
        found = {row[0] for row in rows}
        db.session.commit()
    return found


@requires_postgresql
def test_a_connection_is_reused_by_the_next_statement_and_never_shared_by_two_at_once(app, make_app):
    other = make_app()
    with other.app_context():
        first = _backend_pid()
        assert _backend_pid() == first  # put back after each statement, taken again by the next
        # Two statements in flight at once (two threads) hold two connections.
        side = driver.autocommit_connections(db.engine)
        (one, one_cursor, one_epoch), (two, two_cursor, two_epoch) = side.take(), side.take()
        assert one is not two
        seen = [cursor.execute("select pg_backend_pid()").fetchone()[0] for cursor in (one_cursor, two_cursor)]
        side.give_back(one, one_cursor, one_epoch)
        side.give_back(two, two_cursor, two_epoch)
        assert first in seen and seen[0] != seen[1]
    with other.app_context():
        db.engine.dispose()  # the idle connections close with the engine's pool
    assert _open_backends(app, {first, *seen}) == set()
    with other.app_context():
        assert _backend_pid() not in {first, *seen}  # and the next statement opens a new one


@requires_postgresql
def test_after_a_fork_the_child_opens_its_own_connection_and_leaves_the_parents_alone(make_app):
    other = make_app()
    with other.app_context():
        parent_pid = _backend_pid()
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # the child: a gunicorn worker forked from a master that had used the database
            code = 1
            try:
                with other.app_context():
                    code = 0 if _backend_pid() != parent_pid else 2
                os.write(write, b"%d" % code)
            finally:
                os._exit(0)
        os.close(write)
        _, status = os.waitpid(child, 0)
        assert os.read(read, 8) == b"0" and status == 0
        os.close(read)
        assert _backend_pid() == parent_pid  # the parent's connection survived the child's use and exit


@requires_postgresql
def test_with_pre_ping_an_idle_connection_the_server_dropped_is_replaced_before_use(app, make_app):
    pinging = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True})
    with pinging.app_context():
        pid = _backend_pid()
        with app.app_context():
            db.session.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
            db.session.commit()
        assert _backend_pid() != pid  # no error reaches the caller: the dead one was found and replaced
