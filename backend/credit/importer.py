"""Bulk load of credit standing from the public credit platform (millions of rows, with progress).

Input is the platform's CSV export, UTF-8, with a header row:

    kind,identifier,score,rating,tax_grade,red_list,black_list,updated_at
    person,230184199001011235,1120,,,0,0,2026-11-20T08:00:00+08:00
    company,91231184MA1BXYM00T,,A,A,0,0,2026-11-20

* `identifier` is the 18-digit ID number (persons, GB 11643) or unified social credit code
  (companies, GB 32100). It is turned into the keyed identity hash at once and never stored.
* A row updates the subject with that identity or creates it; its tier is recomputed from the
  current tier ladder (black list wins). Rows that fail validation are counted and reported by
  line number, never silently dropped, and never stop the load.

PostgreSQL loads each batch with COPY into a temporary table and one INSERT ... ON CONFLICT;
SQLite uses an executemany upsert. The job row records progress after every batch, so the
office's progress bar (and `flask credit import`) can follow a load of millions of rows.
"""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from datetime import date, datetime, timezone
from typing import Callable, Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..auth.service import identity_hash
from ..dbtypes import utcnow
from ..extensions import db
from ..office.models import ImportJob
from ..watched_cache import mark_written
from .identifiers import is_valid_id_number, is_valid_uscc
from .models import CreditSubject, TierRule
from .service import compute_tier

COLUMNS = ("kind", "identifier", "score", "rating", "tax_grade", "red_list", "black_list", "updated_at")
RATINGS = {"AAA", "AA", "A", "B", "C", "D"}
TAX_GRADES = {"A", "B", "M", "C", "D"}
TRUE, FALSE = {"1", "true", "yes", "是"}, {"", "0", "false", "no", "否"}
MAX_ERRORS_KEPT = 50


class RowError(ValueError):
    pass


@dataclass
class ImportResult:
    processed: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


def _flag(value: str) -> bool:
    value = value.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise RowError(f"不是是/否：{value!r}")


def _timestamp(value: str) -> datetime:
    value = value.strip()
    if not value:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value) if "T" in value or " " in value else datetime.combine(
            date.fromisoformat(value), datetime.min.time())
    except ValueError:
        raise RowError(f"时间格式不正确：{value!r}") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def parse_row(row: dict, *, pepper: str, rules: list[TierRule]) -> dict:
    """One CSV row → the column values of credit_subjects; raises RowError with a Chinese reason."""
    kind = (row.get("kind") or "").strip()
    identifier = (row.get("identifier") or "").strip().upper()
    if kind == "person":
        if not is_valid_id_number(identifier):
            raise RowError("身份证号码校验失败")
    elif kind == "company":
        if not is_valid_uscc(identifier):
            raise RowError("统一社会信用代码校验失败")
    else:
        raise RowError(f"主体类型只能是 person 或 company：{kind!r}")
    score_text = (row.get("score") or "").strip()
    try:
        score = int(score_text) if score_text else None
    except ValueError:
        raise RowError(f"诚信积分不是整数：{score_text!r}") from None
    rating = (row.get("rating") or "").strip().upper() or None
    if rating is not None and rating not in RATINGS:
        raise RowError(f"信用评价等级不正确：{rating!r}")
    tax_grade = (row.get("tax_grade") or "").strip().upper() or None
    if tax_grade is not None and tax_grade not in TAX_GRADES:
        raise RowError(f"纳税信用等级不正确：{tax_grade!r}")
    values = {
        "kind": kind, "identity_hash": identity_hash(pepper=pepper, identifier=identifier), "score": score,
        "rating": rating, "tax_grade": tax_grade, "red_listed": _flag(row.get("red_list") or ""),
        "black_listed": _flag(row.get("black_list") or ""),
        "source_updated_at": _timestamp(row.get("updated_at") or ""),
    }
    # A plain namespace, not a CreditSubject: building ORM instances was a third of the import's time.
    values["tier_level"] = compute_tier(SimpleNamespace(**values), rules)
    return values


def read_csv(stream: io.TextIOBase) -> Iterator[dict]:
    reader = csv.DictReader(stream)
    missing = set(COLUMNS[:2]) - set(reader.fieldnames or ())
    if missing:
        raise RowError(f"缺少列：{', '.join(sorted(missing))}")
    yield from reader


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _upsert_sqlite(values: list[dict]) -> None:
    statement = sqlite_insert(CreditSubject.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["identity_hash"],
        set_={name: statement.excluded[name] for name in _UPDATED} | {"updated_at": utcnow()},
    )
    db.session.execute(statement, values)


_UPDATED = ("kind", "score", "rating", "tax_grade", "red_listed", "black_listed", "tier_level", "source_updated_at")
_COPY_COLUMNS = ("identity_hash",) + _UPDATED


def _upsert_postgresql(values: list[dict]) -> None:
    connection = db.session.connection()
    raw = connection.connection.driver_connection  # the psycopg 3 connection, inside our transaction
    with raw.cursor() as cursor:
        cursor.execute(
            "create temporary table if not exists credit_import_stage (identity_hash varchar(64), kind varchar(16), "
            "score integer, rating varchar(8), tax_grade varchar(1), red_listed boolean, black_listed boolean, "
            "tier_level integer, source_updated_at timestamp) on commit delete rows")
        with cursor.copy(f"copy credit_import_stage ({', '.join(_COPY_COLUMNS)}) from stdin") as copy:
            for row in values:
                # COPY bypasses the UTCDateTime column type: hand it naive UTC as the column stores.
                naive = row["source_updated_at"].replace(tzinfo=None)
                copy.write_row(tuple(naive if name == "source_updated_at" else row[name] for name in _COPY_COLUMNS))
    mark_written(db.session, CreditSubject)  # COPY and raw SQL pass by the ORM's change tracking
    columns = ", ".join(_COPY_COLUMNS)
    updates = ", ".join(f"{name} = excluded.{name}" for name in _UPDATED)
    connection.exec_driver_sql(
        f"insert into credit_subjects ({columns}, updated_at) "
        f"select {columns}, now() at time zone 'utc' from credit_import_stage "
        f"on conflict (identity_hash) do update set {updates}, updated_at = excluded.updated_at"
    )


# An upload is loaded in a thread of a web worker (flows.py). A gevent worker (gunicorn.conf.py)
# switches only where code waits, and parsing a 20,000-row batch between two database calls would
# hold up every request of that worker for ~0.3 s: so it gives way every few hundred rows.
ROWS_BETWEEN_YIELDS = 500


def run_import(
    *, rows: Iterable[dict], pepper: str, job: ImportJob, batch_size: int = 20_000,
    on_progress: Callable[[ImportJob], None] | None = None,
) -> ImportResult:
    """Load rows in batches, committing and reporting progress after each; returns the tally."""
    rules = list(db.session.scalars(select(TierRule)))
    upsert = _upsert_postgresql if db.engine.dialect.name == "postgresql" else _upsert_sqlite
    result = ImportResult()
    job.status = "running"
    db.session.commit()
    line = 1  # the header
    for batch in _batches(rows, batch_size):
        # The last row wins when one identity appears twice in a batch (ON CONFLICT cannot touch a row twice).
        values: dict[str, dict] = {}
        for row in batch:
            line += 1
            if line % ROWS_BETWEEN_YIELDS == 0:
                time.sleep(0)  # gevent: the hub runs the worker's waiting requests; threads: the GIL is offered
            try:
                parsed = parse_row(row, pepper=pepper, rules=rules)
            except RowError as error:
                result.rejected += 1
                if len(result.errors) < MAX_ERRORS_KEPT:
                    result.errors.append(f"第 {line} 行：{error}")
                continue
            values[parsed["identity_hash"]] = parsed
        if values:
            upsert(list(values.values()))
        result.processed += len(batch)
        job.processed_rows, job.rejected_rows = result.processed, result.rejected
        db.session.commit()
        if on_progress:
            on_progress(job)
    job.status, job.finished_at = "done", utcnow()
    job.error = "\n".join(result.errors) or None
    db.session.commit()
    return result
