"""Bulk load of credit standing from the public credit platform (millions of rows, with progress).

Input is the platform's export, or the office's template filled in, with a header row:

    kind,identifier,score,rating,tax_grade,red_list,black_list,updated_at,subject_key
    person,230184199001011235,1120,,,0,0,2026-11-20T08:00:00+08:00,P-7f3a9c
    company,91231184MA1BXYM00T,,A,A,0,0,2026-11-20,

as CSV in UTF-8 or GBK/GB18030, or as XLSX; the headers may be the template's Chinese ones
(主体类型,证件号码,...) and a kind may be 个人/企业. formats.py reads the file and says how it
tells the encodings apart.

* `identifier` is the 18-digit ID number (persons, GB 11643) or unified social credit code
  (companies, GB 32100). It is turned into the keyed identity hash at once and never stored.
* `subject_key` is the platform's own key for the subject, kept as given (opaque, at most 64
  characters) so that cases are reported back by it. A row without one keeps the key already held;
  a key that is an ID number or credit code is refused, since cases carry the key.
* A row updates the subject with that identity or creates it; its tier is recomputed from the
  current tier ladder (black list wins). Rows that fail validation are counted and reported by
  line number, never silently dropped, and never stop the load.
* A file that cannot be read as a whole (neither UTF-8 nor GB18030, not a readable XLSX, a header
  without the kind or the identifier) is refused before any row is loaded: it changes nothing.
* A file that breaks further down (broken quoting, a cell over 128 KB, a value the database
  refuses) stops the load there: the job ends `failed` with the row and a Chinese reason; the
  batches committed before stay (`run_import`).

PostgreSQL loads each batch with COPY into a temporary table and one INSERT ... ON CONFLICT;
SQLite uses an executemany upsert. The job row records progress after every batch, so the
office's progress bar (and `flask credit import`) can follow a load of millions of rows.
"""
from __future__ import annotations

import csv
import logging
import re
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from datetime import date, datetime, timezone
from typing import Callable, Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..dbtypes import utcnow
from ..extensions import db
from ..watched_cache import mark_written
from .formats import COLUMNS, BrokenFile, FileRejected, NumericText
from .identifiers import identity_hash, is_valid_id_number, is_valid_uscc
from .models import CreditSubject, ImportJob, TierRule
from .service import compute_tier

log = logging.getLogger(__name__)

__all__ = ("COLUMNS", "ImportFailed", "ImportResult", "RowError", "parse_row", "run_import")
KINDS = {"person": "person", "个人": "person", "自然人": "person",
         "company": "company", "企业": "company", "法人": "company", "公司": "company"}
SUBJECT_KEY_MAX = 64
_SUBJECT_KEY = re.compile(rf"[^\s\x00-\x1f\x7f-\x9f]{{1,{SUBJECT_KEY_MAX}}}")
RATINGS = {"AAA", "AA", "A", "B", "C", "D"}
TAX_GRADES = {"A", "B", "M", "C", "D"}
TRUE, FALSE = {"1", "true", "yes", "是"}, {"", "0", "false", "no", "否"}
MAX_ERRORS_KEPT = 50
SCORE_MIN, SCORE_MAX = -(2**31), 2**31 - 1  # the score column's integer; beyond it the database refuses the batch


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
    """One row → the column values of credit_subjects; raises RowError with a Chinese reason."""
    given_kind = (row.get("kind") or "").strip()
    kind = KINDS.get(given_kind) or KINDS.get(given_kind.lower())
    raw_identifier = row.get("identifier") or ""
    identifier = raw_identifier.strip().upper()
    if kind == "person":
        if not is_valid_id_number(identifier):
            raise RowError(_identifier_reason(raw_identifier, "身份证号码校验失败"))
    elif kind == "company":
        if not is_valid_uscc(identifier):
            raise RowError(_identifier_reason(raw_identifier, "统一社会信用代码校验失败"))
    else:
        raise RowError(f"主体类型只能是 个人（person）或 企业（company）：{given_kind!r}")
    score_text = (row.get("score") or "").strip()
    try:
        score = int(score_text) if score_text else None
    except ValueError:
        raise RowError(f"诚信积分不是整数：{score_text!r}") from None
    if score is not None and not SCORE_MIN <= score <= SCORE_MAX:
        raise RowError(f"诚信积分超出范围：{score_text[:24]}")
    rating = (row.get("rating") or "").strip().upper() or None
    if rating is not None and rating not in RATINGS:
        raise RowError(f"信用评价等级不正确：{rating!r}")
    tax_grade = (row.get("tax_grade") or "").strip().upper() or None
    if tax_grade is not None and tax_grade not in TAX_GRADES:
        raise RowError(f"纳税信用等级不正确：{tax_grade!r}")
    subject_key = (row.get("subject_key") or "").strip() or None
    if subject_key is not None:
        _check_subject_key(subject_key)
    values = {
        "kind": kind, "subject_key": subject_key,
        "identity_hash": identity_hash(pepper=pepper, identifier=identifier), "score": score,
        "rating": rating, "tax_grade": tax_grade, "red_listed": _flag(row.get("red_list") or ""),
        "black_listed": _flag(row.get("black_list") or ""),
        "source_updated_at": _timestamp(row.get("updated_at") or ""),
    }
    # A plain namespace, not a CreditSubject: building ORM instances was a third of the import's time.
    values["tier_level"] = compute_tier(SimpleNamespace(**values), rules)
    return values


def _identifier_reason(raw: str, reason: str) -> str:
    if isinstance(raw, NumericText):
        return f"{reason}：Excel 把证件号码存成了数字（超过 15 位的数字会被改掉），请把这一列设为“文本”后重新填写"
    return reason


def _check_subject_key(key: str) -> None:
    if _SUBJECT_KEY.fullmatch(key) is None:  # one regular expression: this runs for each of a million rows
        if len(key) > SUBJECT_KEY_MAX:
            raise RowError(f"平台主体标识超过 {SUBJECT_KEY_MAX} 个字符")
        raise RowError("平台主体标识含有空格或不可见字符")
    # Cases carry the key to the province: an ID number or credit code put here by mistake must not travel.
    if is_valid_id_number(key) or is_valid_uscc(key):
        raise RowError("平台主体标识不能是身份证号码或统一社会信用代码")


def _upsert_sqlite(values: list[dict]) -> None:
    statement = sqlite_insert(CreditSubject.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["identity_hash"],
        set_={name: statement.excluded[name] for name in _UPDATED} | {
            "updated_at": utcnow(),
            "subject_key": func.coalesce(statement.excluded.subject_key, CreditSubject.__table__.c.subject_key)},
    )
    db.session.execute(statement, values)


_UPDATED = ("kind", "score", "rating", "tax_grade", "red_listed", "black_listed", "tier_level", "source_updated_at")
_COPY_COLUMNS = ("identity_hash", "subject_key") + _UPDATED
# subject_key is not overwritten but coalesced (both upserts): a file without keys, or a row without
# one, keeps the key already held, by which cases are reported.


def _upsert_postgresql(values: list[dict]) -> None:
    connection = db.session.connection()
    raw = connection.connection.driver_connection  # the psycopg 3 connection, inside our transaction
    with raw.cursor() as cursor:
        cursor.execute(
            "create temporary table if not exists credit_import_stage (identity_hash varchar(64), "
            "subject_key varchar(64), kind varchar(16), score integer, rating varchar(8), tax_grade varchar(1), "
            "red_listed boolean, black_listed boolean, tier_level integer, source_updated_at timestamp) "
            "on commit delete rows")
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
        f"on conflict (identity_hash) do update set {updates}, updated_at = excluded.updated_at, "
        f"subject_key = coalesce(excluded.subject_key, credit_subjects.subject_key)"
    )


# An upload is loaded in a thread of a web worker (flows.py). A gevent worker (gunicorn.conf.py)
# switches only where code waits, and parsing a 20,000-row batch between two database calls would
# hold up every request of that worker for ~0.3 s: so it gives way every few hundred rows.
ROWS_BETWEEN_YIELDS = 500


class ImportFailed(Exception):
    """The load stopped before the end of the file; str() is the Chinese reason kept on the job."""


class _Position:
    """Where the load is: the row being read or parsed, or the rows of the batch being written."""

    def __init__(self) -> None:
        self.first = self.last = 1

    def at(self, first: int, last: int | None = None) -> None:
        self.first, self.last = first, last or first

    def __str__(self) -> str:
        return f"第 {self.first} 行" if self.first == self.last else f"第 {self.first}–{self.last} 行"


def run_import(
    *, rows: Iterable[dict], pepper: str, job: ImportJob, batch_size: int = 20_000,
    on_progress: Callable[[ImportJob], None] | None = None,
) -> ImportResult:
    """Load rows in batches, committing and reporting progress after each; returns the tally.

    A bad value rejects its row (RowError) and the load goes on. A file refused as a whole
    (FileRejected: its encoding, format or header) stops it before any row is written. Anything
    else (a cell beyond the csv module's 128 KB limit, broken quoting, a value the database
    refuses) stops it: the job ends `failed` with the row and a Chinese reason, the batches
    committed before stay, and ImportFailed tells the caller. A job is never left `running`.
    """
    result, position = ImportResult(), _Position()
    job.status = "running"
    db.session.commit()
    try:
        _load(rows, position=position, result=result, pepper=pepper, job=job, batch_size=batch_size,
              on_progress=on_progress)
    except Exception as error:  # whatever it was, the office must learn that the load stopped, and where
        db.session.rollback()
        where = f"第 {error.line} 行" if isinstance(error, FileRejected) else str(position)
        # A file refused as a whole is the clerk's to fix, not a fault of ours: no traceback for it.
        log.warning("credit import %s stopped at %s", job.id, where, exc_info=not isinstance(error, FileRejected))
        job.status, job.finished_at = "failed", utcnow()
        job.error = "\n".join([f"{where}：{_reason(error)}", *result.errors])
        db.session.commit()
        raise ImportFailed(job.error.splitlines()[0]) from error
    job.status, job.finished_at = "done", utcnow()
    job.error = "\n".join(result.errors) or None
    db.session.commit()
    return result


def _load(rows: Iterable[dict], *, position: _Position, result: ImportResult, pepper: str, job: ImportJob,
          batch_size: int, on_progress: Callable[[ImportJob], None] | None) -> None:
    rules = list(db.session.scalars(select(TierRule)))
    upsert = _upsert_postgresql if db.engine.dialect.name == "postgresql" else _upsert_sqlite
    # The last row wins when one identity appears twice in a batch (ON CONFLICT cannot touch a row twice).
    values: dict[str, dict] = {}
    first = line = 2  # rows are numbered as the file's lines: the header is line 1

    def write_batch() -> None:
        position.at(first, line - 1)
        if values:
            upsert(list(values.values()))
        values.clear()
        result.processed = line - 2
        job.processed_rows, job.rejected_rows = result.processed, result.rejected
        db.session.commit()
        if on_progress:
            on_progress(job)

    position.at(line)
    for row in rows:
        if line % ROWS_BETWEEN_YIELDS == 0:
            time.sleep(0)  # gevent: the hub runs the worker's waiting requests; threads: the GIL is offered
        if row:  # an empty line (or spreadsheet row) has nothing to load and nothing to reject
            try:
                parsed = parse_row(row, pepper=pepper, rules=rules)
            except RowError as error:
                result.rejected += 1
                if len(result.errors) < MAX_ERRORS_KEPT:
                    result.errors.append(f"第 {line} 行：{error}")
            else:
                values[parsed["identity_hash"]] = parsed
        line += 1
        if line - first == batch_size:
            write_batch()
            first = line
        position.at(line)  # the next row to read
    if line > first:
        write_batch()


def _reason(error: Exception) -> str:
    """Why the load stopped, for the office in Chinese; the details are in the server's log."""
    if isinstance(error, (RowError, FileRejected, BrokenFile)):
        return str(error)
    if isinstance(error, csv.Error):
        if "field larger than field limit" in str(error):
            return f"单元格过长（超过 {csv.field_size_limit() // 1024} KB），这不像信用平台导出的文件"
        return "CSV 格式不正确（引号不成对或分隔符有误）"
    if isinstance(error, UnicodeDecodeError):  # formats.sniff checked the whole file: only if it changed since
        return "文件编码有误（出错的字节在这一行或其后）"
    if isinstance(error, (DBAPIError, OverflowError, db.engine.dialect.dbapi.Error)):
        return "数据库拒绝写入这批数据（某个值超出范围或格式不符）"
    if isinstance(error, OSError):
        return "无法读取上传的文件"
    return "导入意外中止，详情见服务器日志"
