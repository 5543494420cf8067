"""Where a new redemption is written: `store.insert(row)` records the row, or says nothing was written.

One autocommit statement (one round trip, its own commit), the same on every database:

    INSERT INTO redemptions (<columns>) SELECT <the row's values>
    WHERE :subject_id IS NULL OR EXISTS (SELECT FROM credit_subjects WHERE id = :subject_id
                                         AND NOT black_listed AND tier_level = :tier_level)
    ON CONFLICT DO NOTHING RETURNING id

so the holder's standing now is checked by the statement that records (nothing can change between
the check and the record), and a taken client id, pass or daily slot writes nothing instead of
failing. Speed: the statement is compiled once per dialect and run on a DBAPI cursor of the
autocommit engine's pool; through `Connection.execute` it cost ~130 us more CPU per redemption (a
fifth of the request), for building an execution context around a statement that never changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import cast, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import bindparam

from ..credit.models import CreditSubject
from ..extensions import autocommit
from .models import Redemption

# A new redemption's columns: not its id (the database's), nor the void columns (empty until voided).
COLUMNS = tuple(column for column in Redemption.__table__.columns
                if column.key not in ("id", "voided_at", "voided_by", "void_reason"))


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # the order of `?` parameters (SQLite), or None for named ones
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
        statement = _statement(engine.dialect)
        parameters = statement.parameters(row)
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            if engine.dispatch.before_cursor_execute:  # statement counters (tests) and loggers see it
                engine.dispatch.before_cursor_execute(None, cursor, statement.sql, parameters, None, False)
            cursor.execute(statement.sql, parameters)
            written = cursor.fetchone()
            cursor.close()
        except engine.dialect.loaded_dbapi.Error as error:
            # As SQLAlchemy's Connection does: a connection the server dropped never goes back to the pool.
            gone = engine.dialect.is_disconnect(error, connection.dbapi_connection, None)
            if gone:
                connection.invalidate(error)
            raise DBAPIError.instance(statement.sql, parameters, error, engine.dialect.loaded_dbapi.Error,
                                      connection_invalidated=gone, dialect=engine.dialect) from error
        finally:
            connection.close()
        return None if written is None else written[0]


store = RedemptionStore()


_COMPILED: dict[str, _Compiled] = {}  # dialect name -> the statement (building it cost more than running it)


def _statement(dialect) -> _Compiled:
    compiled = _COMPILED.get(dialect.name)
    if compiled is None:
        compiled = _COMPILED[dialect.name] = _compile(dialect)
    return compiled


def _compile(dialect) -> _Compiled:
    dialect_name = dialect.name
    table, holder = Redemption.__table__, CreditSubject.__table__.c
    given = {column.key: bindparam(column.key, type_=column.type) for column in COLUMNS}
    if dialect_name == "postgresql":  # PostgreSQL types a bare parameter in a select list as text
        given = {column.key: cast(given[column.key], column.type) for column in COLUMNS}
    # (SQLite must not cast: CAST AS DATETIME would turn a timestamp into a number.)
    standing_holds = or_(given["subject_id"].is_(None), exists().where(
        holder.id == given["subject_id"], holder.black_listed.is_(False), holder.tier_level == given["tier_level"]))
    insert = (pg_insert if dialect_name == "postgresql" else sqlite_insert)(table)
    statement = (insert.from_select([column.key for column in COLUMNS], select(*given.values()).where(standing_holds))
                 .on_conflict_do_nothing().returning(table.c.id))
    compiled = statement.compile(dialect=dialect)
    processors = {name: process for name, bind in compiled.binds.items()
                  if (process := bind.type.bind_processor(dialect)) is not None}
    return _Compiled(compiled.string, tuple(compiled.positiontup) if compiled.positional else None, processors)
