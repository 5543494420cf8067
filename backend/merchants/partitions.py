"""Monthly partitions of `redemptions` and `failed_attempts` on PostgreSQL (migration 0019 makes them).

Years of redemptions in one table make its unique indexes, which every redemption's insert checks,
outgrow memory. Partitioned by month, the indexes of the month being written are small and hot, and
an old month can be detached whole (archived with pg_dump, then dropped) without a long DELETE.
SQLite keeps plain tables: these commands say so and do nothing there.

The partition keys, and why "only once" still holds across partitions:
* `redemptions` by `local_day`. PostgreSQL enforces a unique constraint of a partitioned table only
  within each partition, so every unique key includes `local_day`, and `local_day` is the
  Asia/Shanghai day on which the *pass was issued* (merchants/service.py), not the day of the scan.
  Every scan of one pass therefore carries the same `local_day` and lands in the same partition:
  `(pass_id, perk_id, local_day)` is as strong as `(pass_id, perk_id)`, and a pass issued at 23:59
  on the 31st and scanned at 00:00:30 on the 1st is refused the second time, in the 31st's month.
  The day differs from the scan's day only for a pass scanned in the few minutes after the midnight
  it was issued before (a pass lives at most 10 minutes); such a use counts on the pass's day.
  `(perk_id, subject_id, local_day, day_slot)` (the daily limits) and `(client_id, local_day)` (a
  retry carries the same pass, so the same day) hold for the same reason.
* `failed_attempts` by `at` (UTC months): it has no unique key but its id.
The primary keys become (id, local_day) and (id, at): the ids still come from one sequence each.
Foreign keys that pointed at `redemptions.id` (objections, redemption_conflicts) cannot point at a
partitioned table without its partition key; migration 0019 drops them on PostgreSQL (redemptions
are never deleted: a void is a status; detaching a month is the operator's deliberate act).

Each table also has a DEFAULT partition, so that a redemption on a month nobody created yet is
still recorded; `ensure` moves such rows into their month when it creates it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import click
from flask.cli import AppGroup
from sqlalchemy import text

from ..dbtypes import utcnow
from ..extensions import db
from ..timeutil import local_day


@dataclass(frozen=True)
class Partitioned:
    table: str
    key: str

    def name(self, month: date) -> str:
        return f"{self.table}_p{month:%Y_%m}"

    @property
    def default(self) -> str:
        return f"{self.table}_default"

    def bounds(self, month: date) -> tuple[str, str]:
        """The range of one month as SQL literals (a date, or a UTC timestamp for `at`)."""
        start, end = month.isoformat(), next_month(month).isoformat()
        if self.key == "at":
            start, end = f"{start} 00:00:00", f"{end} 00:00:00"
        return start, end


TABLES = (Partitioned("redemptions", "local_day"), Partitioned("failed_attempts", "at"))


# What PostgreSQL holds differently from the models (which state the logical keys, as SQLite has them):
# the partitions themselves, the unique keys that also hold the partition key, and the foreign keys
# to redemptions.id that a partitioned table cannot have. Autogenerate and the models-vs-migrations
# test skip them (migrations/env.py, tests/test_migrations.py).
PARTITION_NAME = re.compile(r"^(redemptions|failed_attempts)_(p\d{4}_\d{2}|default)$")
RESHAPED_ON_POSTGRESQL = frozenset({
    "uq_redemptions_client_id", "uq_redemptions_pass_id_perk_id",
    "fk_objections_redemption_id_redemptions", "fk_redemption_conflicts_redemption_id_redemptions",
})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: False for what partitioning makes differ on PostgreSQL (and only there)."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    if table is not None and PARTITION_NAME.match(table.name or ""):
        return False
    return not (name in RESHAPED_ON_POSTGRESQL and _comparing_postgresql())


def _comparing_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def parse_month(value: str) -> date:
    year, month = value.split("-")
    return date(int(year), int(month), 1)


def is_partitioned(connection, table: str) -> bool:
    return connection.execute(text("select exists (select 1 from pg_partitioned_table p join pg_class c "
                                   "on c.oid = p.partrelid where c.relname = :t and c.relnamespace = "
                                   "current_schema()::regnamespace)"), {"t": table}).scalar()


def partitions(connection, table: str) -> list[tuple[str, str]]:
    """(name, bound) of every partition of `table`, the default last."""
    rows = connection.execute(text(
        "select c.relname, pg_get_expr(c.relpartbound, c.oid) from pg_inherits i join pg_class c "
        "on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent where p.relname = :t "
        "and p.relnamespace = current_schema()::regnamespace order by c.relname"), {"t": table}).all()
    return sorted(((name, bound) for name, bound in rows), key=lambda row: (row[1] == "DEFAULT", row[0]))


def ensure(connection, *, months_ahead: int, today: date | None = None) -> list[str]:
    """Create the month partitions from this month to `months_ahead` after it (the ones missing),
    moving into each any rows its default partition holds for that month. Returns the names made."""
    this_month = month_of(today or local_day(utcnow()))
    made = []
    for spec in TABLES:
        if not is_partitioned(connection, spec.table):
            continue
        existing = {name for name, _ in partitions(connection, spec.table)}
        month = this_month
        for _ in range(months_ahead + 1):
            if spec.name(month) not in existing:
                create_month(connection, spec, month)
                made.append(spec.name(month))
            month = next_month(month)
    return made


def create_month(connection, spec: Partitioned, month: date) -> None:
    """One month's partition, taking over what the default partition held of it (in the caller's transaction)."""
    name, (start, end) = spec.name(month), spec.bounds(month)
    rows = f"{spec.key} >= '{start}' and {spec.key} < '{end}'"
    connection.execute(text(f"create table {name} (like {spec.table} including defaults including constraints)"))
    connection.execute(text(f"insert into {name} select * from {spec.default} where {rows}"))
    connection.execute(text(f"delete from {spec.default} where {rows}"))
    connection.execute(text(f"alter table {spec.table} attach partition {name} for values from ('{start}') to ('{end}')"))


def detach_before(connection, before: date) -> list[str]:
    """Detach every month partition that ends on or before `before` (a month's first day). The tables
    stay, no longer part of the whole, for the operator to archive (pg_dump -t) and drop."""
    detached = []
    for spec in TABLES:
        if not is_partitioned(connection, spec.table):
            continue
        for name, _ in partitions(connection, spec.table):
            if name == spec.default:
                continue
            month = parse_month(name.rsplit("_p", 1)[1].replace("_", "-"))
            if next_month(month) <= before:
                connection.execute(text(f"alter table {spec.table} detach partition {name}"))
                detached.append(name)
    return detached


partitions_cli = AppGroup("partitions", help="核销记录与失败记录的按月分区（仅 PostgreSQL）")


def _on_postgresql() -> bool:
    if db.engine.dialect.name != "postgresql":
        click.echo("SQLite 数据库不分区：无需操作。")
        return False
    return True


@partitions_cli.command("ensure")
@click.option("--months-ahead", default=3, show_default=True, type=click.IntRange(0, 120),
              help="除本月外，提前建好的月份数")
def ensure_command(months_ahead: int):
    """Create this month's partitions and the next N months' (run it monthly, e.g. from cron)."""
    if not _on_postgresql():
        return
    with db.engine.begin() as connection:
        made = ensure(connection, months_ahead=months_ahead)
    click.echo(f"新建分区 {len(made)} 个" + (f"：{', '.join(made)}" if made else "。"))


@partitions_cli.command("detach")
@click.option("--before", required=True, help="早于该月（YYYY-MM，不含）的月份分区将被分离")
def detach_command(before: str):
    """Detach the months before YYYY-MM: their tables stay for archiving and are no longer read."""
    if not _on_postgresql():
        return
    try:
        month = parse_month(before)
    except ValueError:
        raise click.BadParameter("应为 YYYY-MM", param_hint="--before") from None
    with db.engine.begin() as connection:
        detached = detach_before(connection, month)
    click.echo(f"已分离分区 {len(detached)} 个" + (f"：{', '.join(detached)}" if detached else "。"))


@partitions_cli.command("list")
def list_command():
    """Every partition of both tables with its range."""
    if not _on_postgresql():
        return
    with db.engine.connect() as connection:
        for spec in TABLES:
            for name, bound in partitions(connection, spec.table):
                click.echo(f"{spec.table}\t{name}\t{bound}")


COMMANDS = (partitions_cli,)
