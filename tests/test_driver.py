"""backend/driver.py: one statement through the driver keeps what SQLAlchemy's execution path gave
its callers (autocommit, SQLAlchemy's exception classes, a broken connection dropped from the pool,
listeners told of the statement)."""
from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from backend import driver
from backend.extensions import db

from .conftest import TEST_DB, statements_sent, wait_until

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
    with app.app_context():
        engine = db.engine
        with statements_sent(engine) as seen, pytest.raises(IntegrityError):  # NOT NULL: the other columns
            driver.first_value(text("insert into redemptions (client_id) values (:c)"), {"c": "x"})
        assert seen == ["insert into redemptions (client_id) values (?)" if engine.dialect.name == "sqlite"
                        else "insert into redemptions (client_id) values ($1)"]  # psycopg sends PostgreSQL's own
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
    # A backend exits a moment after its client said goodbye: wait for it rather than race it.
    wait_until(lambda: _open_backends(app, {first, *seen}) == set(), what="the closed connections' backends")
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


# -- group commit ---------------------------------------------------------------------------------

def _group_statements():
    one = text("insert into group_commit_test (key, n) select cast(:key as text), cast(:n as integer) "
               "where cast(:ok as boolean) on conflict do nothing returning id")
    built = {}

    def rows(count: int):
        if count not in built:
            tuples = ", ".join(f"(cast(:key_{i} as text), cast(:n_{i} as integer), cast(:ok_{i} as boolean))"
                               for i in range(count))
            built[count] = text(f"insert into group_commit_test (key, n) select v.key, v.n from (values {tuples}) "
                                "as v (key, n, ok) where v.ok on conflict do nothing returning id, key")
        return built[count]
    return one, rows


@pytest.fixture
def group(app):
    with app.app_context():
        db.session.execute(text("create table if not exists group_commit_test "
                                "(id bigserial primary key, key text unique, n integer check (n >= 0))"))
        db.session.execute(text("delete from group_commit_test"))
        db.session.commit()
        one, rows = _group_statements()
        try:
            with statements_sent(db.engine) as statements:
                yield driver.GroupCommit(one_row=one, rows=rows, key="key"), statements
        finally:
            db.session.execute(text("drop table group_commit_test"))
            db.session.commit()


def _lead_with_queued(group_commit, rows: list[dict]) -> list:
    """Lead with the first of `rows`, the others queued as if their threads were waiting, and
    return each row's outcome (an id, None, or the exception); rows a batch could not take stay
    queued."""
    waiting = [driver._Waiting(row) for row in rows]
    group_commit._queue, group_commit._in_flight = waiting[1:], 1
    group_commit._lead(waiting[0])
    return [(w.error if w.error is not None else w.value) if w.settled else "queued" for w in waiting]


def _stored(keys) -> dict:
    rows = db.session.execute(text("select key, id from group_commit_test where key = any(:keys)"), {"keys": keys})
    found = dict(rows.all())
    db.session.commit()
    return found


@requires_postgresql
def test_waiting_inserts_are_written_by_one_statement_each_with_its_own_outcome(group):
    group_commit, statements = group
    outcomes = _lead_with_queued(group_commit, [
        {"key": "a", "n": 1, "ok": True}, {"key": "b", "n": 2, "ok": False}, {"key": "c", "n": 3, "ok": True}])
    assert len(statements) == 1 and statements[0].count("as boolean)") == 3  # one statement, three rows
    stored = _stored(["a", "b", "c"])
    assert outcomes == [stored["a"], None, stored["c"]] and "b" not in stored  # b's condition failed: None
    assert group_commit._in_flight == 0 and group_commit._queue == []
    # A key already taken writes nothing for that row only.
    assert _lead_with_queued(group_commit, [{"key": "a", "n": 4, "ok": True}, {"key": "d", "n": 5, "ok": True}]) == [
        None, _stored(["d"])["d"]]


@requires_postgresql
def test_a_row_that_breaks_the_statement_fails_alone(group):
    group_commit, statements = group
    outcomes = _lead_with_queued(group_commit, [
        {"key": "e", "n": 1, "ok": True}, {"key": "f", "n": -1, "ok": True}, {"key": "g", "n": 2, "ok": True}])
    stored = _stored(["e", "f", "g"])
    assert outcomes[0] == stored["e"] and outcomes[2] == stored["g"] and "f" not in stored
    assert isinstance(outcomes[1], IntegrityError)  # the check constraint, as if f had been alone
    assert len([s for s in statements if s.startswith("insert")]) == 4  # the batch, then each row alone


@requires_postgresql
def test_two_rows_with_one_key_never_share_a_batch(group):
    group_commit, _ = group
    first, second = driver._Waiting({"key": "h", "n": 1, "ok": True}), driver._Waiting({"key": "h", "n": 2, "ok": True})
    group_commit._queue, group_commit._in_flight = [second], 1
    group_commit._lead(first)
    assert first.value == _stored(["h"])["h"] and not second.settled  # the second waits for the next leader ...
    # ... which it is told to be, in the first one's place
    assert second.lead and second.done.is_set() and group_commit._queue == [] and group_commit._in_flight == 1
    group_commit._lead(second)
    assert second.settled and second.value is None and second.error is None
    assert group_commit._queue == [] and group_commit._in_flight == 0
    assert _stored(["h"])["h"] == first.value  # the second found its key taken: None, nothing written


@requires_postgresql
def test_a_leader_that_fails_hands_its_error_to_its_batch_and_the_next_insert_still_runs(group, monkeypatch):
    group_commit, _ = group
    monkeypatch.setattr(group_commit, "_rows", lambda count: (_ for _ in ()).throw(RuntimeError("builder broke")))
    with pytest.raises(RuntimeError):
        _lead_with_queued(group_commit, [{"key": "i", "n": 1, "ok": True}, {"key": "j", "n": 1, "ok": True}])
    assert group_commit._in_flight == 0
    monkeypatch.undo()
    assert group_commit.insert({"key": "k", "n": 1, "ok": True}) == _stored(["k"])["k"]


@requires_postgresql
@pytest.mark.parametrize("in_flight", [1, 2])
def test_threads_inserting_at_once_each_get_their_own_row(app, group, in_flight):
    import threading

    _, statements = group
    one, rows = _group_statements()
    group_commit = driver.GroupCommit(one_row=one, rows=rows, key="key", max_in_flight=in_flight)
    results: dict[str, object] = {}

    def insert_many(thread: int):
        with app.app_context():
            for n in range(40):
                key = f"t{thread}-{n}"
                results[key] = group_commit.insert({"key": key, "n": n, "ok": n % 7 != 0})

    threads = [threading.Thread(target=insert_many, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stored = _stored(list(results))
    assert len(results) == 320 and group_commit._in_flight == 0
    assert results == {key: stored.get(key) for key in results}  # every id is that row's; refused rows None
    assert len(stored) == 320 - 8 * 6
    assert len([s for s in statements if s.startswith("insert")]) < 320  # some inserts shared a statement


@requires_postgresql
def test_with_two_batches_in_flight_a_third_waits_for_the_first_to_finish(app, group, monkeypatch):
    import threading

    _, statements = group
    one, rows = _group_statements()
    group_commit = driver.GroupCommit(one_row=one, rows=rows, key="key", max_in_flight=2)
    gates, write, writes = [threading.Event(), threading.Event()], group_commit._write, []

    def held_write(batch):  # the first two batches wait in "the database" until their gate opens
        writes.append([w.values["key"] for w in batch])
        if len(writes) <= 2:
            gates[len(writes) - 1].wait(timeout=30)
        write(batch)

    monkeypatch.setattr(group_commit, "_write", held_write)
    results = {}

    def insert(key):
        with app.app_context():
            results[key] = group_commit.insert({"key": key, "n": 1, "ok": True})

    started = {key: threading.Thread(target=insert, args=(key,)) for key in ("p", "q", "r")}
    started["p"].start()
    wait_until(lambda: len(writes) == 1)
    started["q"].start()  # a second slot: q leads its own batch while p's is still out
    wait_until(lambda: len(writes) == 2)
    assert writes == [["p"], ["q"]] and group_commit._in_flight == 2
    started["r"].start()  # both slots taken: r waits
    wait_until(lambda: len(group_commit._queue) == 1)
    gates[1].set()  # q's batch comes back first and hands its slot to r
    started["q"].join(timeout=30)
    started["r"].join(timeout=30)
    assert writes[2] == ["r"] and "p" not in results and group_commit._in_flight == 1
    gates[0].set()
    started["p"].join(timeout=30)
    assert results == _stored(["p", "q", "r"]) and group_commit._in_flight == 0 and group_commit._queue == []


def test_each_engine_has_its_own_group(app, make_app):
    other = make_app()
    made = []

    def make():
        made.append(driver.GroupCommit(one_row=None, rows=lambda count: None, key="key"))
        return made[-1]

    with app.app_context():
        mine = driver.group_commit(db.engine, "test", make)
        assert driver.group_commit(db.engine, "test", make) is mine
    with other.app_context():  # another app's engine: a leader there must not write this app's rows
        assert driver.group_commit(db.engine, "test", make) is not mine
    assert len(made) == 2


@requires_postgresql
def test_autocommit_connections_in_use_are_bounded_and_a_statement_past_the_bound_waits(app):
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    with app.app_context():
        side = driver.AutocommitConnections(db.engine, keep=2, limit=2, timeout=0.2)
        first, second = side.take(), side.take()
        started = time.monotonic()
        with pytest.raises(PoolTimeout):  # both in use: a third waits, then gives up as the pool would
            side.take()
        assert time.monotonic() - started >= 0.2
        # A statement waiting for one gets the connection given back.
        side_waits = driver.AutocommitConnections(db.engine, keep=2, limit=1, timeout=5)
        held = side_waits.take()
        taken = []
        waiter = threading.Thread(target=lambda: taken.append(side_waits.take()))
        waiter.start()
        time.sleep(0.1)
        assert taken == []  # still waiting
        side_waits.give_back(*held)
        waiter.join(timeout=5)
        assert taken and taken[0][0] is held[0]
        side_waits.discard(taken[0][0])  # a broken connection frees its place too
        replacement = side_waits.take()
        assert replacement[0] is not held[0] and not replacement[0].closed
        side_waits.give_back(*replacement)
        side.give_back(*first)
        side.discard(second[0])
        again = side.take()
        assert again[0] is first[0]  # the idle one, not a new one
        side.discard(again[0])
        side.close_idle()
        side_waits.close_idle()
