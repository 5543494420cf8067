"""One statement in autocommit mode, through the database driver directly.

For the hottest write (recording a redemption) SQLAlchemy's execution path cost more CPU than the
driver's own work: measured on this project's 2-core machine, ~320 us per insert through
`engine.connect()` + `Connection.execute` against ~100 us for the same statement through psycopg.
So the statement is still built with SQLAlchemy (one definition for every dialect, compiled once
per dialect with its bind processors), and only its execution goes to the driver. What is kept:
* on PostgreSQL, connections come from a small per-process stack of autocommit connections that
  the engine's pool made (its connect events ran) and gave up: taking one and putting it back is a
  lock and a list operation, where a checkout from the pool plus switching autocommit on and off
  again cost ~90 us of CPU per statement on this machine, more than half of psycopg's own work.
  A connection the driver found broken is closed, with every idle one (like the pool's
  invalidation); `engine.dispose()` closes the idle ones; after a fork the child opens its own;
  with `DATABASE_POOL_PRE_PING` an idle one is pinged before use, as the pool does.
  Other databases (SQLite) keep the pool's checkout, where a connection is a file handle;
* the engine's `before_cursor_execute` listeners are told of the statement (the connection
  argument is None), so that statement logging and the tests that count statements still see it;
* driver errors become SQLAlchemy's exception classes (IntegrityError, OperationalError...), as
  callers of `Connection.execute` expect.

`GroupCommit` (at the end) lets the inserts that several threads of one process start at the same
moment travel as one multi-row statement and one commit (see its docstring).
"""
from __future__ import annotations

import copy
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Callable

import psycopg
from flask import current_app
from sqlalchemy import event, exc as sqlalchemy_errors
from sqlalchemy.exc import DBAPIError

from .extensions import db


@dataclass(frozen=True)
class DriverStatement:
    sql: str
    positional_names: tuple[str, ...] | None  # the order of `?` parameters, or None for named ones
    processors: dict[str, Callable]  # bind name -> the type's conversion for this dialect

    def parameters(self, values: dict):
        processed = dict(values)
        for name, process in self.processors.items():
            processed[name] = process(processed[name])
        if self.positional_names is not None:
            return tuple(processed[name] for name in self.positional_names)
        return processed


_COMPILED: dict[tuple[int, str], tuple[object, DriverStatement]] = {}


def compiled(statement, dialect) -> DriverStatement:
    key = (id(statement), dialect.name)
    cached = _COMPILED.get(key)
    if cached is None or cached[0] is not statement:
        result = statement.compile(dialect=_native_placeholders(dialect) if dialect.name == "postgresql" else dialect)
        processors = {name: process for name, bind in result.binds.items()
                      if (process := bind.type.bind_processor(dialect)) is not None}
        names = tuple(result.positiontup) if result.positional else None
        cached = _COMPILED[key] = (statement, DriverStatement(result.string, names, processors))
    return cached[1]


def _native_placeholders(dialect):
    """The dialect, rendering PostgreSQL's own `$1, $2` placeholders: psycopg sends those as they are
    (`RawCursor`), where for `%(name)s` it parses the statement again on every execution. Its cache
    of parsed statements stops at 50 parameters, so each multi-row insert of group commit (19 per
    row) was parsed anew: ~26 us of CPU per row, ~8% of a worker's time in the benchmark."""
    native = _NATIVE_DIALECTS.get(id(dialect))
    if native is None or native[0] is not dialect:
        copy_ = copy.copy(dialect)  # an initialized dialect (server version, type casts), one style changed
        copy_.paramstyle, copy_.positional = "numeric_dollar", True
        native = _NATIVE_DIALECTS[id(dialect)] = (dialect, copy_)
    return native[1]


_NATIVE_DIALECTS: dict[int, tuple[object, object]] = {}


class AutocommitConnections:
    """Autocommit DBAPI connections of one engine in one process: at most `limit` in use at once
    (a statement that finds them all taken waits up to `timeout` seconds, as for the engine's
    pool), and up to `keep` idle ones kept (a stack: the warmest first).

    The limit matters under gevent workers: a worker serves hundreds of requests at once, and
    without it each one in flight could open its own connection (gthread bounded them by its threads)."""

    def __init__(self, engine, keep: int, ping: bool = False, *, limit: int, timeout: float):
        self._engine = engine
        self._keep = min(keep, limit)
        self._ping = ping  # as the pool's pre-ping: for networks that drop idle connections
        self._idle: list = []
        self._lock = threading.Lock()
        self._limit = limit
        self._in_use = threading.BoundedSemaphore(limit)
        self._timeout = timeout
        self._epoch = 0  # bumped by close_idle(): a connection taken before goes back closed
        self.pid = os.getpid()

    def take(self):
        """-> (DBAPI connection, its cursor, epoch); opens one through the engine's pool when none is idle.

        Each connection keeps one cursor for good: a new psycopg cursor per statement cost ~30 us.
        Raises sqlalchemy.exc.TimeoutError when `limit` connections stay in use for `timeout` seconds.
        Every connection taken must come back through give_back() or discard()."""
        if not self._in_use.acquire(timeout=self._timeout):
            raise sqlalchemy_errors.TimeoutError(
                f"all {self._limit} autocommit connections stayed in use for {self._timeout:g} s")
        try:
            return self._take()
        except BaseException:
            self._in_use.release()
            raise

    def _take(self):
        while True:
            with self._lock:
                if not self._idle:
                    epoch = self._epoch
                    break
                connection, cursor = self._idle.pop()
                epoch = self._epoch
            if not self._ping or self._alive(connection):
                return connection, cursor, epoch
        pooled = self._engine.raw_connection()  # the pool's connect events configure it
        pooled.detach()  # ours now: the pool forgets it and does not count it
        connection = pooled.dbapi_connection
        self._engine.dialect.set_isolation_level(connection, "AUTOCOMMIT")
        return connection, psycopg.RawCursor(connection), epoch

    def _alive(self, connection) -> bool:
        try:
            return bool(self._engine.dialect.do_ping(connection))
        except self._engine.dialect.loaded_dbapi.Error:
            connection.close()
            return False

    def give_back(self, connection, cursor, epoch: int) -> None:
        try:
            with self._lock:
                if epoch == self._epoch and len(self._idle) < self._keep:
                    self._idle.append((connection, cursor))
                    return
            connection.close()
        finally:
            self._in_use.release()

    def discard(self, connection) -> None:
        """Close a connection taken from here whose state is unknown or broken."""
        try:
            connection.close()
        finally:
            self._in_use.release()

    def close_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._epoch += 1
        for connection, _ in idle:
            try:
                connection.close()
            except Exception:  # already broken: closing is all we wanted
                pass


_SIDE_POOLS: "weakref.WeakKeyDictionary[object, AutocommitConnections]" = weakref.WeakKeyDictionary()
_SIDE_POOLS_LOCK = threading.Lock()
# Connections inherited through a fork are the parent's sockets: the child must neither use nor
# close them (closing sends the server a goodbye on the parent's session), so it keeps them here.
_INHERITED: list = []


def autocommit_connections(engine) -> AutocommitConnections:
    side = _SIDE_POOLS.get(engine)
    if side is not None and side.pid == os.getpid():
        return side
    with _SIDE_POOLS_LOCK:
        side = _SIDE_POOLS.get(engine)
        if side is not None and side.pid != os.getpid():
            _INHERITED.append(side)
            side = None
        if side is None:
            keep = engine.pool.size() if hasattr(engine.pool, "size") else 5
            config = current_app.config
            ping = bool(config.get("SQLALCHEMY_ENGINE_OPTIONS", {}).get("pool_pre_ping"))
            timeout = engine.pool.timeout() if hasattr(engine.pool, "timeout") else 30.0
            side = _SIDE_POOLS[engine] = AutocommitConnections(
                engine, keep, ping, limit=config["DATABASE_AUTOCOMMIT_CONNECTIONS"], timeout=timeout)
            if not event.contains(engine, "engine_disposed", _close_idle_on_dispose):
                event.listen(engine, "engine_disposed", _close_idle_on_dispose)
        return side


def _close_idle_on_dispose(engine) -> None:
    side = _SIDE_POOLS.get(engine)
    if side is not None and side.pid == os.getpid():
        side.close_idle()


def first_value(statement, values: dict):
    """Run `statement` with `values` in autocommit mode; the first column of its first row, or None."""
    row = _run(statement, values, lambda cursor: cursor.fetchone())
    return None if row is None else row[0]


def all_rows(statement, values: dict) -> list:
    """Run `statement` with `values` in autocommit mode (PostgreSQL); every row it returns."""
    return _run(statement, values, lambda cursor: cursor.fetchall())


def _run(statement, values: dict, fetch):
    engine = db.engine
    dialect = engine.dialect
    prepared = compiled(statement, dialect)
    parameters = prepared.parameters(values)
    if dialect.name != "postgresql":
        return _run_through_pool(engine, prepared, parameters, fetch)
    side = autocommit_connections(engine)
    connection, cursor, epoch = side.take()
    try:
        if engine.dispatch.before_cursor_execute:
            engine.dispatch.before_cursor_execute(None, cursor, prepared.sql, parameters, None, False)
        cursor.execute(prepared.sql, parameters)
        result = fetch(cursor)
    except dialect.loaded_dbapi.Error as error:
        invalidated = dialect.is_disconnect(error, connection, None)
        if invalidated:  # the server went away: the idle ones are most likely gone too
            side.close_idle()
            side.discard(connection)
        else:
            side.give_back(connection, cursor, epoch)
        raise DBAPIError.instance(prepared.sql, parameters, error, dialect.loaded_dbapi.Error,
                                  connection_invalidated=invalidated, dialect=dialect) from error
    except BaseException:
        side.discard(connection)  # interrupted mid-statement: its state is unknown
        raise
    side.give_back(connection, cursor, epoch)
    return result


def _run_through_pool(engine, prepared: DriverStatement, parameters, fetch):
    dialect = engine.dialect
    pooled = engine.raw_connection()
    driver_connection = pooled.driver_connection
    try:
        dialect.set_isolation_level(driver_connection, "AUTOCOMMIT")
        try:
            cursor = pooled.cursor()
            try:
                if engine.dispatch.before_cursor_execute:
                    engine.dispatch.before_cursor_execute(None, cursor, prepared.sql, parameters, None, False)
                cursor.execute(prepared.sql, parameters)
                result = fetch(cursor)
            finally:
                cursor.close()
        finally:
            dialect.reset_isolation_level(driver_connection)
    except dialect.loaded_dbapi.Error as error:
        invalidated = dialect.is_disconnect(error, driver_connection, None)
        if invalidated:
            pooled.invalidate(error)
        raise DBAPIError.instance(prepared.sql, parameters, error, dialect.loaded_dbapi.Error,
                                  connection_invalidated=invalidated, dialect=dialect) from error
    finally:
        pooled.close()
    return result


class _Waiting:
    """One insert waiting in a GroupCommit: its values, then its outcome (a value or an error)."""

    __slots__ = ("values", "done", "lead", "value", "error", "settled")

    def __init__(self, values: dict):
        self.values = values
        self.done = threading.Event()
        self.lead = False
        self.value = self.error = None
        self.settled = False

    def settle(self, value=None, error: BaseException | None = None) -> None:
        self.value, self.error, self.settled = value, error, True

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.value


class GroupCommit:
    """Group commit for one kind of single-row `INSERT ... RETURNING <id>, <key>` (PostgreSQL).

    While one thread's insert is on its way to the database, inserts that other threads of the same
    process start wait; when it is back, the first of them writes every one waiting in one
    multi-row statement: one commit, so one wait for the disk, for all of them. A row's outcome is
    what it would have been alone: its id, or None when the statement wrote nothing for it (its
    conditions failed or a unique key was taken), or the error. Rows are matched to returned ids by
    `key` (a unique column), so a batch never holds two rows with the same key; if a batch's
    statement fails, each of its rows is written alone, so that one bad row fails only itself.
    The price: a row that has to wait in the database (a parent row locked FOR UPDATE by someone,
    the same unique key being inserted by another transaction) holds up the rest of its batch
    for as long.

    `one_row` is the single-row statement; `rows(n)` builds the n-row one (cached by the caller),
    whose parameters are each single-row parameter name with `_<row index>` appended.
    `max_in_flight` batches may be on their way at once; an insert that finds them all out waits,
    and the first one waiting leads when a batch comes back (in that batch's place).
    """

    def __init__(self, *, one_row, rows: Callable[[int], object], key: str, max_rows: int = 16,
                 max_in_flight: int = 1):
        self._one_row, self._rows, self._key, self._max_rows = one_row, rows, key, max_rows
        self._max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._in_flight = 0  # batches on their way to the database
        self._pid = os.getpid()

    def insert(self, values: dict):
        """-> the new row's id, or None if the statement wrote nothing for this row."""
        me = _Waiting(values)
        with self._lock:
            if self._pid != os.getpid():  # a fork: no leader of the parent's runs here
                self._queue, self._in_flight, self._pid = [], 0, os.getpid()
            leading = self._in_flight < self._max_in_flight
            if leading:
                self._in_flight += 1
            else:
                self._queue.append(me)
        if not leading:
            me.done.wait()
            if not me.lead:
                return me.outcome()
        self._lead(me)
        return me.outcome()

    def _lead(self, me: _Waiting) -> None:
        batch = [me]
        try:
            with self._lock:
                keys, later = {me.values.get(self._key)}, []
                for waiting in self._queue:
                    key = waiting.values.get(self._key)  # cannot raise: the queue is never left half-split
                    if key in keys or len(batch) >= self._max_rows:
                        later.append(waiting)
                    else:
                        keys.add(key)
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
                    self._in_flight -= 1
            for waiting in batch[1:]:
                waiting.done.set()
            if following is not None:
                following.lead = True
                following.done.set()

    def _write(self, batch: list[_Waiting]) -> None:
        if len(batch) > 1:
            parameters = {f"{name}_{n}": value for n, waiting in enumerate(batch)
                          for name, value in waiting.values.items()}
            try:
                written = {key: new_id for new_id, key in all_rows(self._rows(len(batch)), parameters)}
            except DBAPIError as error:
                if error.connection_invalidated:
                    for waiting in batch:
                        waiting.settle(error=error)
                    return
                # One row broke the statement (a foreign key, a check): each row alone, for its own outcome.
            else:
                for waiting in batch:
                    waiting.settle(written.get(waiting.values[self._key]))
                return
        for waiting in batch:
            try:
                waiting.settle(first_value(self._one_row, waiting.values))
            except Exception as error:
                waiting.settle(error=error)


_GROUPS: "weakref.WeakKeyDictionary[object, dict[str, GroupCommit]]" = weakref.WeakKeyDictionary()


def group_commit(engine, name: str, make: Callable[[], GroupCommit]) -> GroupCommit:
    """The engine's GroupCommit called `name` (made by `make` on first use). One per engine: a leader
    writes other threads' rows through its own app's engine, so two apps in one process (tests, a
    second database) must never share a group."""
    groups = _GROUPS.get(engine)
    if groups is None:
        with _SIDE_POOLS_LOCK:
            groups = _GROUPS.setdefault(engine, {})
    group = groups.get(name)
    if group is None:
        with _SIDE_POOLS_LOCK:
            group = groups.setdefault(name, make())
    return group
