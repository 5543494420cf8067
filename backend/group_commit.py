"""Group commit: the single-row inserts that the threads (or greenlets) of one process start at the
same moment travel to the database as one multi-row statement, so one commit and one WAL flush.

Why: under load every redemption is its own autocommit INSERT, and on PostgreSQL the commit is most
of its cost. Measured on this project's 2-core machine in one run (bench/redemption_ab.py, gevent
workers, 16 connections): one commit per redemption cost PostgreSQL ~310 us of CPU per redemption
and the app ~1,000 us; grouped, ~135 us and ~750 us (docs/benchmarks.md). No library does this for
a DBAPI cursor, so it is kept small and tested on its own (tests/mechanisms/test_group_commit.py).

How: an insert that finds no batch on its way to the database leads: it writes itself and every
insert that queued meanwhile (up to `max_rows`) with `write_many`; the others wait for their
outcome. When the leader is back, the first one still waiting leads the next batch. Nobody waits
for a timer: an insert alone in its process goes at once, as a one-row batch (`write_one`).

A row's outcome is what it would have been alone: its id, None when the statement wrote nothing for
it (its conditions failed, a unique key was taken), or the error. Rows are matched to the returned
ids by `key` (a unique column), so a batch never holds two rows with the same key. If a batch's
statement fails for one bad row (a foreign key, a check), each row is written alone so that the bad
one fails only itself; if the connection was lost, every row of the batch gets that error.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, Hashable


class _Waiting:
    """One insert in a group: its row, then its outcome (a value or an error)."""

    __slots__ = ("row", "done", "leads", "value", "error", "settled")

    def __init__(self, row: dict):
        self.row = row
        self.done = threading.Event()
        self.leads = False
        self.value = self.error = None
        self.settled = False

    def settle(self, value=None, error: BaseException | None = None) -> None:
        self.value, self.error, self.settled = value, error, True

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.value


class GroupCommit:
    """`insert(row)` -> what `write_one(row)` would return, with concurrent rows written together.

    `write_one(row)` writes one row and returns its id or None; `write_many(rows)` writes several
    in one statement and returns {key of a written row: its id}; `lost(error)` says whether an error
    of `write_many` means the connection is gone (then no row is tried again alone)."""

    def __init__(self, *, write_one: Callable[[dict], Any], write_many: Callable[[list[dict]], dict],
                 key: str, lost: Callable[[BaseException], bool], max_rows: int = 16):
        self._write_one, self._write_many, self._key, self._lost = write_one, write_many, key, lost
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._leading = False  # a batch is on its way to the database
        self._pid = os.getpid()

    def insert(self, row: dict):
        me = _Waiting(row)
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's leader does not run here
                self._queue, self._leading, self._pid = [], False, os.getpid()
            leads = not self._leading
            if leads:
                self._leading = True
            else:
                self._queue.append(me)
        if not leads:
            me.done.wait()
            if not me.leads:
                return me.outcome()
        self._lead(me)
        return me.outcome()

    def _lead(self, me: _Waiting) -> None:
        batch = [me]
        try:
            with self._lock:
                keys: set[Hashable] = {me.row[self._key]}
                later = []
                for waiting in self._queue:
                    if waiting.row[self._key] in keys or len(batch) >= self._max_rows:
                        later.append(waiting)
                    else:
                        keys.add(waiting.row[self._key])
                        batch.append(waiting)
                self._queue = later
            self._write(batch)
        except BaseException as error:  # e.g. the worker being stopped: nobody may wait forever
            for waiting in batch:
                if not waiting.settled:
                    waiting.settle(error=error)
            raise
        finally:
            with self._lock:  # the first one waiting leads next, in this batch's place
                following = self._queue.pop(0) if self._queue else None
                if following is None:
                    self._leading = False
            for waiting in batch[1:]:
                waiting.done.set()
            if following is not None:
                following.leads = True
                following.done.set()

    def _write(self, batch: list[_Waiting]) -> None:
        if len(batch) > 1:
            try:
                written = self._write_many([waiting.row for waiting in batch])
            except Exception as error:
                if self._lost(error):
                    for waiting in batch:
                        waiting.settle(error=error)
                    return
                # One row broke the statement: each row alone, for its own outcome.
            else:
                for waiting in batch:
                    waiting.settle(written.get(waiting.row[self._key]))
                return
        for waiting in batch:
            try:
                waiting.settle(self._write_one(waiting.row))
            except Exception as error:
                waiting.settle(error=error)
