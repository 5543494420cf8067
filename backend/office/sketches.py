"""Distinct beneficiaries beside the rollups: HyperLogLog sketches of subject ids (PostgreSQL's `hll`).

A count of distinct holders does not add up across days (one person on two days is one beneficiary,
not two), so the rollups' sums cannot give it; read from the redemptions it costs seconds for a year
of 10 M rows. A HyperLogLog sketch can be merged instead: each rollup row (daily_stats, monthly_stats,
day_totals) carries `subjects`, the sketch of its redemptions' subject ids, and an answer unions the
sketches of its range with those of the redemptions not rolled up yet (rollup.counted). The union's
cardinality is within about 2.3% of the exact count (one standard error at LOG2M = 11: 1.04 / sqrt(2048)).

Only where migration 0022_stats_sketches found the extension (Debian's `postgresql-15-hll`) do the
columns exist (`available`); SQLite and PostgreSQL without it count exactly from the rows. The models
do not declare them, so the columns are named here and the comparison of models with migrations
skips them (`include_object`). A redemption voided since the last rollup stays in its sketch until
the next one (a sketch cannot take an id out): the estimate may count that holder meanwhile.
"""
from __future__ import annotations

from sqlalchemy import column, func, table, text
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.types import UserDefinedType

from ..merchants import partitions

COLUMN = "subjects"
TABLES = ("daily_stats", "monthly_stats", "day_totals")
# The sketches' parameters, stated rather than left to the extension's defaults, which a session can
# change (hll_set_defaults): sketches written years apart must still union. 2^11 registers of 5 bits,
# at most 1,280 bytes a sketch; ids kept explicitly up to 160 (expthresh -1: as many as fit that size).
LOG2M, REGWIDTH, EXPTHRESH, SPARSEON = 11, 5, -1, 1


class Hll(UserDefinedType):
    """The extension's `hll` type (read and written only inside statements, never as a Python value)."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "hll"


# Reflection (the comparison of models with migrations, autogenerate) names the column's type; without
# this entry SQLAlchemy warns that it does not know `hll`, and the tests treat warnings as errors.
ischema_names.setdefault("hll", Hll)


def sketched(name: str, *names: str):
    """A rollup table as the sketches see it: `names` and its `subjects` column."""
    return table(name, *(column(each) for each in names), column(COLUMN, Hll()))


def available(session) -> bool:
    """Whether this database's rollups carry sketches (PostgreSQL with the extension, migrated by 0022)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return bool(session.scalar(text(
        "select exists (select 1 from pg_attribute where attrelid = to_regclass('daily_stats') "
        "and attname = :name and not attisdropped)"), {"name": COLUMN}))


def of_ids(ids):
    """The sketch of a column of subject ids (a visitor's NULL adds nothing), as an aggregate."""
    return func.hll_add_agg(func.hll_hash_bigint(ids), LOG2M, REGWIDTH, EXPTHRESH, SPARSEON, type_=Hll())


def union(sketches):
    """The sketch of the union of a column of sketches, as an aggregate."""
    return func.hll_union_agg(sketches, type_=Hll())


def cardinality(sketch):
    """How many distinct ids a sketch holds (a double: an estimate unless the sketch kept its ids)."""
    return func.hll_cardinality(sketch)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: the partitions' (merchants/partitions.py), and the sketch columns, which only a
    database with the extension has and the models do not declare."""
    if type_ == "column" and name == COLUMN and getattr(obj, "table", None) is not None \
            and obj.table.name in TABLES:
        return False
    return partitions.include_object(obj, name, type_, reflected, compare_to)
