"""Where a new redemption is written: `store.insert(row)` records the row, or says nothing was written.

One autocommit statement (one round trip, its own commit), the same on every database:

    INSERT INTO redemptions (<columns>) SELECT <the row's values>
    WHERE :subject_id IS NULL OR EXISTS (SELECT FROM credit_subjects WHERE id = :subject_id
                                         AND NOT black_listed AND tier_level = :tier_level)
    ON CONFLICT DO NOTHING RETURNING id, client_id

so the holder's standing now is checked by the statement that records (nothing can change between
the check and the record), and a taken client id, pass or daily slot writes nothing instead of
failing. Speed: the statement is compiled once per dialect and run on a DBAPI cursor of the
autocommit engine's pool; through `Connection.execute` it cost ~130 us more CPU per redemption (a
fifth of the request), for building an execution context around a statement that never changes.

On PostgreSQL the redemptions that one worker's requests record at the same moment are written by
one such statement with a row each, and so one commit (backend/group_commit.py; REDEMPTION_GROUP_COMMIT
turns it off): the commit was most of what a redemption cost the database.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Callable

import psycopg
from flask import current_app
from sqlalchemy import cast, exists, or_, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import bindparam

from ..credit.models import CreditSubject
from ..extensions import autocommit
from ..group_commit import GroupCommit
from .models import Redemption

# A new redemption's columns: not its id (the database's), nor the void columns (empty until voided).
COLUMNS = tuple(column for column in Redemption.__table__.columns
                if column.key not in ("id", "voided_at", "voided_by", "void_reason"))


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # the order of positional parameters (`?` on SQLite, `$n` on PostgreSQL)
    processors: dict[str, Callable]  # column -> its type's conversion for this dialect (UTC datetimes)

    def parameters(self, row: dict):
        values = dict(row)
        for name, process in self.processors.items():
            values[name] = process(values[name])
        return values if self.positional is None else tuple(values[name] for name in self.positional)


class RedemptionStore:
    def insert(self, row: dict) -> int | None:
        """Record `row` (a value for each of COLUMNS): its new id, or None when nothing was written
        because its client id, pass or daily slot is taken, or its holder is black-listed or no
        longer at `row["tier_level"]`."""
        engine = autocommit.engine
        group = _GROUPS.get(engine, _NOT_YET)
        if group is _NOT_YET:
            group = _GROUPS[engine] = _group_for(engine, current_app.config.get("REDEMPTION_GROUP_COMMIT", True))
        if group is None:
            return _write_one(engine, row)
        return group.insert(row)


def _write_one(engine, row: dict) -> int | None:
    written = _execute(engine, _statement(engine.dialect, 1), row)
    return written[0][0] if written else None


def _write_many(engine, rows: list[dict]) -> dict[str, int]:
    """Rows written by one statement: {client id: new id} of those written."""
    parameters = {f"{name}_{n}": value for n, row in enumerate(rows) for name, value in row.items()}
    return {client_id: new_id for new_id, client_id in _execute(engine, _statement(engine.dialect, len(rows)),
                                                                parameters)}


def _execute(engine, statement: "_Compiled", values: dict) -> list:
    parameters = statement.parameters(values)
    connection = engine.raw_connection()
    try:
        # One cursor per connection, kept in the pool's `info` of that connection (emptied when the
        # connection is replaced): psycopg remembers on a cursor which dumper each parameter type
        # takes, and choosing them afresh for a new cursor's 21 parameters cost ~15 us per redemption.
        cursor = connection.info.get(_CURSOR)
        if cursor is None:
            cursor = connection.info[_CURSOR] = _cursor(connection)
        if engine.dispatch.before_cursor_execute:  # statement counters (tests) and loggers see it
            engine.dispatch.before_cursor_execute(None, cursor, statement.sql, parameters, None, False)
        cursor.execute(statement.sql, parameters)
        written = cursor.fetchall()
    except engine.dialect.loaded_dbapi.Error as error:
        # As SQLAlchemy's Connection does: a connection the server dropped never goes back to the pool.
        gone = engine.dialect.is_disconnect(error, connection.dbapi_connection, None)
        if gone:
            connection.invalidate(error)
        raise DBAPIError.instance(statement.sql, parameters, error, engine.dialect.loaded_dbapi.Error,
                                  connection_invalidated=gone, dialect=engine.dialect) from error
    finally:
        connection.close()
    return written


_CURSOR = "redemption_store_cursor"


def _cursor(connection):
    """On PostgreSQL a psycopg RawCursor: the statement is written with PostgreSQL's own `$n`
    placeholders (`_compile`), so psycopg sends it as it is. Its usual cursor rewrites `%(name)s`
    placeholders on every execute and caches the rewrite only for statements up to 4 KB; a batch
    of 16 rows is 21 KB, and rewriting it was ~5% of a worker's CPU under load (py-spy)."""
    if isinstance(connection.driver_connection, psycopg.Connection):
        return psycopg.RawCursor(connection.driver_connection)
    return connection.cursor()


# engine -> its group, or None where rows go one by one (SQLite serialises writers anyway; the setting
# off). Per engine: a leader writes the others' rows through its own app's engine, so two apps in one
# process (tests, a second database) never share a group.
_GROUPS: "weakref.WeakKeyDictionary[object, GroupCommit | None]" = weakref.WeakKeyDictionary()
_NOT_YET = object()


def _group_for(engine, enabled: bool) -> GroupCommit | None:
    if not enabled or engine.dialect.name != "postgresql":
        return None
    return GroupCommit(write_one=lambda row: _write_one(engine, row),
                       write_many=lambda rows: _write_many(engine, rows), key="client_id",
                       lost=lambda error: bool(getattr(error, "connection_invalidated", False)), max_rows=MAX_ROWS)


MAX_ROWS = 16  # rows in one statement at most (one compiled statement per size, 1..16)

store = RedemptionStore()


# (dialect name, rows) -> the statement (building it cost more than running it)
_COMPILED: dict[tuple[str, int], _Compiled] = {}


def _statement(dialect, rows: int) -> _Compiled:
    compiled = _COMPILED.get((dialect.name, rows))
    if compiled is None:
        compiled = _COMPILED[(dialect.name, rows)] = _compile(dialect, rows)
    return compiled


def _compile(dialect, rows: int) -> _Compiled:
    """One row: its values as a SELECT list; several (PostgreSQL): a UNION ALL of such lists, whose
    parameters are each column's name with `_<row index>` appended."""
    dialect_name = dialect.name
    table, holder = Redemption.__table__, CreditSubject.__table__.c

    def given(suffix: str) -> dict:
        values = {column.key: bindparam(column.key + suffix, type_=column.type) for column in COLUMNS}
        if dialect_name == "postgresql":  # PostgreSQL types a bare parameter in a select list as text
            values = {column.key: cast(values[column.key], column.type).label(column.key) for column in COLUMNS}
        # (SQLite must not cast: CAST AS DATETIME would turn a timestamp into a number.)
        return values

    if rows == 1:
        source = given("")
    else:
        source = union_all(*[select(*given(f"_{n}").values()) for n in range(rows)]).subquery("v").c
    standing_holds = or_(source["subject_id"].is_(None), exists().where(
        holder.id == source["subject_id"], holder.black_listed.is_(False), holder.tier_level == source["tier_level"]))
    insert = (pg_insert if dialect_name == "postgresql" else sqlite_insert)(table)
    selected = select(*[source[column.key] for column in COLUMNS]).where(standing_holds)
    statement = (insert.from_select([column.key for column in COLUMNS], selected)
                 .on_conflict_do_nothing().returning(table.c.id, table.c.client_id))
    if dialect.driver == "psycopg":  # `$1, $2, ...`, for its RawCursor (`_cursor`)
        dialect = type(dialect)(paramstyle="numeric_dollar")
    compiled = statement.compile(dialect=dialect)
    processors = {name: process for name, bind in compiled.binds.items()
                  if (process := bind.type.bind_processor(dialect)) is not None}
    return _Compiled(compiled.string, tuple(compiled.positiontup) if compiled.positional else None, processors)
