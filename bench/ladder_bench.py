"""Benchmark: a ladder change recomputing every subject's tier on PostgreSQL (default 200,000 subjects).

    .venv/bin/python bench/ladder_bench.py [--subjects 200000] [--rounds 2]

A fresh database, migrated and seeded with the demo city (the Zhaodong ladder), then `--subjects`
subjects generated in SQL: nine persons in ten with points around the rungs, companies with every
rating and tax grade, a few red- and black-listed. Each round sets every tier to 0 and times, each
committed, the per-row recompute this replaced (`recompute_all_tiers_row_by_row`: load every
subject, `compute_tier` in Python, flush the changed ones) and the single UPDATE
(`recompute_all_tiers`), both starting from the same tiers, so both change the same rows; then
checks they gave the same tiers. Two starts: every tier 0 (a first ladder: most subjects change),
and the seeded ladder's tiers with one persons' rung then moved from 1,100 to 1,120 points (a
typical edit: a tenth of the subjects change).
"""
from __future__ import annotations

import argparse
import itertools
import os
import secrets
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend import create_app  # noqa: E402
from backend.credit import service  # noqa: E402
from backend.extensions import db  # noqa: E402

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

GENERATE = """
insert into credit_subjects (kind, identity_hash, score, rating, tax_grade, red_listed, black_listed, tier_level,
                             source_updated_at, updated_at)
select case when i % 10 = 0 then 'company' else 'person' end,
       md5('bench' || i) || md5('ladder' || i),
       case when i % 10 <> 0 then 1000 + (i * 7919) % 200 end,
       case when i % 10 = 0 then (array['AAA', 'AA', 'A', 'B', 'C', 'D'])[1 + (i / 10) % 6] end,
       case when i % 10 = 0 then (array['A', 'B', 'M', 'C', 'D'])[1 + (i / 60) % 5] end,
       i % 97 = 0, i % 89 = 0, 0, now(), now()
from generate_series(1, :count) as i
"""


def from_nothing() -> None:
    """Every tier 0, as before a first ladder: every qualifying subject changes."""
    db.session.execute(text("update credit_subjects set tier_level = 0"))


def rung_moved() -> None:
    """The tiers of the seeded ladder, then its persons' 1,100-point rung moved to 1,120 (a typical edit)."""
    db.session.execute(text(MOVE_RUNG), {"old": "1120", "new": "1100"})
    service.recompute_all_tiers()
    db.session.execute(text(MOVE_RUNG), {"old": "1100", "new": "1120"})


MOVE_RUNG = ("update tier_rules set threshold = :new where holder_kind = 'person' and criterion = 'score_at_least' "
             "and threshold = :old")


def timed(start, work) -> tuple[float, int]:
    start()
    db.session.commit()
    db.session.expunge_all()
    started = time.perf_counter()
    changed = work()
    db.session.commit()
    return time.perf_counter() - started, changed


def tiers() -> list[tuple[int, int]]:
    return db.session.execute(text("select id, tier_level from credit_subjects order by id")).all()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    name = f"xym_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        app = create_app({"TESTING": True, "DEMO": True, "SECRET_KEY": "bench", "PASS_KEY_SECRET": "bench",
                          "IDENTITY_PEPPER": "bench", "SQLALCHEMY_DATABASE_URI": url.replace(
                              "postgresql://", "postgresql+psycopg://", 1)})
        with app.app_context():
            from flask_migrate import upgrade
            upgrade()
            assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
            db.session.execute(text(GENERATE), {"count": args.subjects})
            db.session.commit()
            db.session.execute(text("analyze credit_subjects"))
            db.session.commit()
            total = db.session.scalar(text("select count(*) from credit_subjects"))
            for round_, (label, start) in itertools.product(range(1, args.rounds + 1),
                                                            (("from nothing", from_nothing), ("rung moved", rung_moved))):
                row_seconds, row_changed = timed(start, service.recompute_all_tiers_row_by_row)
                by_row = tiers()
                set_seconds, set_changed = timed(start, service.recompute_all_tiers)
                assert tiers() == by_row and set_changed == row_changed, "the two recomputes disagree"
                print(f"round {round_}, {label}: {total:,} subjects, {row_changed:,} tiers changed; "
                      f"per row {row_seconds:.2f} s, one UPDATE {set_seconds:.2f} s "
                      f"({row_seconds / set_seconds:.1f}x)")
            db.engine.dispose()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


if __name__ == "__main__":
    main()
