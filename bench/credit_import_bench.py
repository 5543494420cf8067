"""Benchmark: load the credit platform's export (default 1,000,000 rows) into PostgreSQL.

    .venv/bin/python bench/credit_import_bench.py [--rows 1000000] [--format utf8|gbk|xlsx]

`utf8`: the platform's CSV, English headers, UTF-8. `gbk`: what Excel on a Chinese Windows saves,
Chinese headers (主体类型, 证件号码, ...), 个人/企业 and 是/否 as values, a name column, in GBK.
`xlsx`: the Chinese-header layout as an Excel workbook (openpyxl's write-only mode). Every row
carries the platform's subject key. The file is generated in a child process, so the peak memory
printed is the import's own.

Prints rows per second of our import (sniff the encoding over the whole file, validate, hash the
identifier, compute the tier, COPY and upsert in batches, with progress) against a baseline
measured in the same run on the same file: PostgreSQL's bare `COPY` of the raw CSV into an
unindexed text table, the floor of any load (none for XLSX, which COPY cannot read). Also prints
the process's peak memory, which must not grow with a CSV (it streams).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend import create_app  # noqa: E402
from backend.credit import formats, importer  # noqa: E402
from backend.demo import synthetic_id_number, synthetic_uscc  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.credit.models import ImportJob  # noqa: E402

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def rows_of(count: int):
    """The export's rows as the platform's English values: kind, identifier, score, rating, tax grade,
    red list, black list, updated, subject key."""
    rng = random.Random(7)
    for i in range(count):
        key = f"HLJ{i:012d}"
        if i % 10 == 9:
            yield ("company", synthetic_uscc(rng), "", rng.choice("ABCD"), rng.choice("ABMCD"), "0",
                   str(int(rng.random() < 0.05)), "2026-11-20", key)
        else:
            yield ("person", synthetic_id_number(rng), str(rng.randint(900, 1200)), "", "",
                   str(int(rng.random() < 0.03)), str(int(rng.random() < 0.05)), "2026-11-20", key)


NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "欧阳娜娜", "赵磊", "黄敏")
CHINESE = {"person": "个人", "company": "企业", "0": "否", "1": "是"}


def write_export(path: Path, rows: int, fmt: str) -> None:
    if fmt == "utf8":
        with path.open("w", encoding="utf-8") as out:
            out.write(",".join(importer.COLUMNS) + "\n")
            for row in rows_of(rows):
                out.write(",".join(row) + "\n")
        return
    header = [names[0] for names in formats.HEADERS.values()] + ["姓名"]

    def chinese(row, i):
        kind, identifier, score, rating, tax, red, black, updated, key = row
        return [CHINESE[kind], identifier, score, rating, tax, CHINESE[red], CHINESE[black], updated, key,
                NAMES[i % len(NAMES)]]

    if fmt == "gbk":
        with path.open("w", encoding="gbk", newline="") as out:
            out.write(",".join(header) + "\r\n")
            for i, row in enumerate(rows_of(rows)):
                out.write(",".join(chinese(row, i)) + "\r\n")
        return
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("信用数据")
    sheet.append(header)
    for i, row in enumerate(rows_of(rows)):
        cells = chinese(row, i)
        cells[2] = int(cells[2]) if cells[2] else None  # a score is a number in Excel
        sheet.append([cell if cell != "" else None for cell in cells])
    book.save(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("utf8", "gbk", "xlsx"), default="utf8")
    args = parser.parse_args()
    name = f"xym_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        with tempfile.TemporaryDirectory() as tmp:
            export = Path(tmp) / f"export.{'xlsx' if args.format == 'xlsx' else 'csv'}"
            started = time.perf_counter()
            # In a child: writing an XLSX holds its shared strings in memory, which is not the import's.
            child = multiprocessing.get_context("fork").Process(target=write_export,
                                                                args=(export, args.rows, args.format))
            child.start()
            child.join()
            assert child.exitcode == 0, "generating the export failed"
            print(f"generated {args.rows:,} rows as {args.format} ({export.stat().st_size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - started:.1f} s")

            baseline = None
            if args.format != "xlsx":
                encoding = "UTF8" if args.format == "utf8" else "GBK"
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("create unlogged table raw_copy (kind text, identifier text, score text, rating text, "
                                 "tax_grade text, red_list text, black_list text, updated_at text, subject_key text"
                                 + (", name text)" if args.format == "gbk" else ")"))
                    started = time.perf_counter()
                    with conn.cursor() as cursor, export.open("rb") as handle:
                        with cursor.copy(f"copy raw_copy from stdin with (format csv, header true, "
                                         f"encoding '{encoding}')") as copy:
                            while chunk := handle.read(1 << 20):
                                copy.write(chunk)
                    baseline = time.perf_counter() - started

            app = create_app({"TESTING": True, "DEMO": True, "SECRET_KEY": "bench", "PASS_KEY_SECRET": "bench",
                              "IDENTITY_PEPPER": "bench", "SQLALCHEMY_DATABASE_URI": url.replace(
                                  "postgresql://", "postgresql+psycopg://", 1)})
            with app.app_context():
                from flask_migrate import upgrade
                upgrade()
                app.test_cli_runner().invoke(args=["demo", "seed"])
                started = time.perf_counter()
                job = ImportJob(kind="credit_subjects", total_rows=formats.count_rows(export))
                db.session.add(job)
                db.session.commit()
                result = importer.run_import(rows=formats.read_rows(export), pepper="bench", job=job)
                ours = time.perf_counter() - started
                keyed = db.session.execute(text(
                    "select count(*) from credit_subjects where subject_key is not null")).scalar()
                db.engine.dispose()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if baseline is not None:
        print(f"baseline: bare COPY of the CSV     {args.rows / baseline:>12,.0f} rows/s  ({baseline:.1f} s)")
    print(f"ours:     validated upsert import  {args.rows / ours:>12,.0f} rows/s  ({ours:.1f} s, counting and "
          f"sniffing included), {result.processed:,} read, {result.rejected} rejected, {keyed:,} with a subject key")
    if baseline is not None:
        print(f"ratio ours/baseline: {baseline / ours:.2f}")
    print(f"peak memory of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
