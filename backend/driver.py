"""One statement on a pooled connection in autocommit mode, through the database driver directly.

For the hottest write (recording a redemption) SQLAlchemy's execution path cost more CPU than the
driver's own work: measured on this project's 2-core machine, ~320 us per insert through
`engine.connect()` + `Connection.execute` against ~100 us for the same statement through psycopg.
So the statement is still built with SQLAlchemy (one definition for every dialect, compiled once
per dialect with its bind processors), and only its execution goes to the driver. What is kept:
* the engine's pool (checkout, return, and invalidation of a connection the driver found broken);
* the engine's `before_cursor_execute` listeners are told of the statement (the connection
  argument is None), so that statement logging and the tests that count statements still see it;
* driver errors become SQLAlchemy's exception classes (IntegrityError, OperationalError...), as
  callers of `Connection.execute` expect.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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
        result = statement.compile(dialect=dialect)
        processors = {name: process for name, bind in result.binds.items()
                      if (process := bind.type.bind_processor(dialect)) is not None}
        names = tuple(result.positiontup) if result.positional else None
        cached = _COMPILED[key] = (statement, DriverStatement(result.string, names, processors))
    return cached[1]


def first_value(statement, values: dict):
    """Run `statement` with `values` in autocommit mode; the first column of its first row, or None."""
    engine = db.engine
    dialect = engine.dialect
    prepared = compiled(statement, dialect)
    parameters = prepared.parameters(values)
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
                row = cursor.fetchone()
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
    return None if row is None else row[0]
