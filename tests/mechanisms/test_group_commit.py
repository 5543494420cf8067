"""backend/group_commit.py: concurrent inserts share a statement, and each gets the outcome it would
have got alone (its id, None, or its own error); then the same through the redemption store on a
real PostgreSQL, with threads racing as a worker's requests do."""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, func, select

from backend.extensions import autocommit, db
from backend.group_commit import GroupCommit
from backend.merchants.models import Redemption
from backend.merchants.store import COLUMNS, store
from tests.helpers import TEST_DB


class Database:
    """A stand-in whose first statement blocks until released, so that rows queue behind it."""

    def __init__(self, *, refuse=(), break_batches=False, lose_connection=False):
        self.statements: list[list[str]] = []
        self.refuse, self.break_batches, self.lose_connection = set(refuse), break_batches, lose_connection
        self.first_started, self.release = threading.Event(), threading.Event()

    def _enter(self, keys):
        self.statements.append(keys)
        if len(self.statements) == 1:
            self.first_started.set()
            assert self.release.wait(5)

    def write_one(self, row):
        self._enter([row["key"]])
        if row["key"] == "bad":
            raise ValueError("a check failed")
        return None if row["key"] in self.refuse else f"id-{row['key']}"

    def write_many(self, rows):
        self._enter([row["key"] for row in rows])
        if self.lose_connection:
            error = ConnectionError("server closed the connection")
            error.connection_invalidated = True
            raise error
        if self.break_batches and any(row["key"] == "bad" for row in rows):
            raise ValueError("a check failed")
        return {row["key"]: f"id-{row['key']}" for row in rows if row["key"] not in self.refuse}


def group_for(database: Database, max_rows: int = 16) -> GroupCommit:
    return GroupCommit(write_one=database.write_one, write_many=database.write_many, key="key",
                       lost=lambda error: getattr(error, "connection_invalidated", False), max_rows=max_rows)


def race(group: GroupCommit, database: Database, first: str, others: list[str]) -> dict:
    """`first` leads and blocks in the database while `others` queue; then all are released."""
    outcomes: dict = {}

    def insert(key):
        try:
            outcomes[key] = group.insert({"key": key})
        except Exception as error:  # noqa: BLE001 - the test reads each row's own outcome
            outcomes[key] = error

    leader = threading.Thread(target=insert, args=(first,))
    leader.start()
    assert database.first_started.wait(5)
    followers = [threading.Thread(target=insert, args=(key,)) for key in others]
    for thread in followers:
        thread.start()
    for _ in range(500):  # until all have queued behind the leader (at most 5 s)
        if len(group._queue) >= len(others):
            break
        time.sleep(0.01)
    database.release.set()
    for thread in [leader, *followers]:
        thread.join(5)
    return outcomes


def test_rows_that_arrive_while_a_statement_is_out_go_together_in_the_next_one():
    database = Database(refuse={"c"})
    outcomes = race(group_for(database), database, "a", ["b", "c", "d"])
    assert outcomes == {"a": "id-a", "b": "id-b", "c": None, "d": "id-d"}
    assert database.statements[0] == ["a"] and sorted(database.statements[1]) == ["b", "c", "d"]
    assert len(database.statements) == 2


def test_a_batch_never_holds_a_key_twice_nor_more_rows_than_its_bound():
    database = Database()
    outcomes = race(group_for(database, max_rows=2), database, "a", ["b", "c", "c"])
    assert outcomes == {"a": "id-a", "b": "id-b", "c": "id-c"}
    assert all(len(statement) <= 2 and len(set(statement)) == len(statement) for statement in database.statements)
    assert sum(len(statement) for statement in database.statements) == 4  # every row written, none twice


def test_one_bad_row_fails_only_itself_when_its_batch_is_written_row_by_row():
    database = Database(break_batches=True)
    outcomes = race(group_for(database), database, "a", ["b", "bad", "d"])
    assert (outcomes["a"], outcomes["b"], outcomes["d"]) == ("id-a", "id-b", "id-d")
    assert isinstance(outcomes["bad"], ValueError)


def test_a_lost_connection_fails_every_row_of_its_batch_and_the_group_goes_on():
    database = Database(lose_connection=True)
    group = group_for(database)
    outcomes = race(group, database, "a", ["b", "c"])
    assert outcomes["a"] == "id-a" and all(isinstance(outcomes[key], ConnectionError) for key in "bc")
    assert group.insert({"key": "e"}) == "id-e"  # alone: one row, its own statement


def test_a_leader_stopped_mid_write_leaves_nobody_waiting():
    class Stopped(BaseException):
        pass

    def write_one(row):
        raise Stopped()

    group = GroupCommit(write_one=write_one, write_many=lambda rows: {}, key="key", lost=lambda error: False)
    with pytest.raises(Stopped):
        group.insert({"key": "a"})
    assert group._leading is False and group._queue == []


# -- through the store, on PostgreSQL ------------------------------------------------------------------

requires_postgresql = pytest.mark.skipif(TEST_DB != "postgresql", reason="group commit is PostgreSQL's")


@requires_postgresql
def test_racing_redemptions_share_statements_and_each_is_recorded_once(shop):
    holders = [shop.holder(tier_level=2) for _ in range(24)]
    perk = shop.perk()
    template = shop.redeem(shop.pass_for(holders[0]), perk).redemption
    rows = [{**{column.key: getattr(template, column.key) for column in COLUMNS}, "client_id": str(uuid.uuid4()),
             "pass_id": uuid.uuid4().hex, "subject_id": holder} for holder in holders[1:]]
    rows.append(dict(rows[0], client_id=str(uuid.uuid4())))  # the same pass at the same perk: not again
    rows.append(dict(rows[1], pass_id=uuid.uuid4().hex, client_id=str(uuid.uuid4()), tier_level=3))  # not its tier
    statements = []
    engine = autocommit.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    app = shop.app

    def insert(row):
        with app.app_context():
            return store.insert(row)
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            ids = list(pool.map(insert, rows))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert all(new_id is not None for new_id in ids[:-2]) and ids[-2:] == [None, None]
    assert len(set(ids[:-2])) == len(rows) - 2
    inserts = [sql for sql in statements if sql.startswith("INSERT INTO redemptions")]
    assert len(inserts) < len(rows)  # some rows shared a statement (and a commit)
    db.session.rollback()
    recorded = db.session.scalar(select(func.count()).select_from(Redemption).where(Redemption.id.in_(ids[:-2])))
    assert recorded == len(rows) - 2
