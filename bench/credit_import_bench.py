"""Benchmark: load the credit platform's export (default 1,000,000 rows) into PostgreSQL.

    .venv/bin/python bench/credit_import_bench.py [--rows 1000000]

Prints rows per second of our import (validate, hash the identifier, compute the tier, COPY and
upsert in batches, with progress) against a baseline measured in the same run on the same file:
PostgreSQL's bare `COPY` of the raw CSV into an unindexed text table, the floor of any load.
Also prints the process's peak memory, which must not grow with the file (it streams).
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend import create_app  # noqa: E402
from backend.credit import importer  # noqa: E402
from backend.demo import synthetic_id_number, synthetic_uscc  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.credit.models import ImportJob  # noqa: E402

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def write_export(path: Path, rows: int) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(importer.COLUMNS) + "\n")
        for i in range(rows):
            if i % 10 == 9:
                out.write(f"company,{synthetic_uscc(rng)},,{rng.choice('ABCD')},{rng.choice('ABMCD')},0,"
                          f"{int(rng.random() < 0.05)},2026-11-20\n")
            else:
                out.write(f"person,{synthetic_id_number(rng)},{rng.randint(900, 1200)},,,{int(rng.random() < 0.03)},"
                          f"{int(rng.random() < 0.05)},2026-11-20\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    name = f"xym_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        with tempfile.TemporaryDirectory() as tmp:
            export = Path(tmp) / "export.csv"
            started = time.perf_counter()
            write_export(export, args.rows)
            print(f"generated {args.rows:,} rows ({export.stat().st_size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - started:.1f} s")

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("create unlogged table raw_copy (kind text, identifier text, score text, rating text, "
                             "tax_grade text, red_list text, black_list text, updated_at text)")
                started = time.perf_counter()
                with conn.cursor() as cursor, export.open("rb") as handle:
                    with cursor.copy("copy raw_copy from stdin with (format csv, header true)") as copy:
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
                job = ImportJob(kind="credit_subjects", total_rows=args.rows)
                db.session.add(job)
                db.session.commit()
                started = time.perf_counter()
                with export.open(encoding="utf-8", newline="") as stream:
                    result = importer.run_import(rows=importer.read_csv(stream), pepper="bench", job=job)
                ours = time.perf_counter() - started
                db.engine.dispose()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"baseline: bare COPY of the CSV     {args.rows / baseline:>12,.0f} rows/s  ({baseline:.1f} s)")
    print(f"ours:     validated upsert import  {args.rows / ours:>12,.0f} rows/s  ({ours:.1f} s), "
          f"{result.rejected} rejected")
    print(f"ratio ours/baseline: {baseline / ours:.2f}    peak memory of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
