"""sketches of the beneficiaries beside the statistics' rollups (HyperLogLog), where PostgreSQL has hll

Revision ID: 0022_stats_sketches
Revises: 0021_calendar_workdays
Create Date: 2026-12-01 19:00:00

PostgreSQL with the `hll` extension available (Debian's `postgresql-15-hll`) only: the extension is
created in this database, and daily_stats, monthly_stats and day_totals gain `subjects`, the sketch
of their redemptions' subject ids (backend/office/sketches.py). Creating an extension takes a
superuser unless it is already there (`create extension hll` by one, once): where this role may not,
the migration says so and leaves the rollups as they are. SQLite, and PostgreSQL without the
package, keep counting distinct beneficiaries exactly from the redemptions; to gain the sketches
later, install the package, then `flask db downgrade 0019_partition_redemptions` and `flask db upgrade`.

The rollups' rows so far have no sketch: as 0016 and 0018 did, they are emptied and the rollup's marks
go back to the start, so until `flask stats rollup` next runs every statistic is counted live
(docs/running.md: run it straight after upgrading). The previous release writes rows without a
sketch, which would count as no beneficiary: stop its rollup timer first. Its statistics keep working
(it never names the column).
The downgrade drops the columns and keeps the extension (it may serve others in this database); the
rollups' sums stay valid.
"""
import logging
from datetime import datetime

from alembic import op
from sqlalchemy import text

revision = '0022_stats_sketches'
down_revision = '0021_calendar_workdays'
branch_labels = None
depends_on = None

TABLES = ('daily_stats', 'monthly_stats', 'day_totals')
log = logging.getLogger('alembic.runtime.migration')


def _extension(connection) -> bool:
    """Whether hll is in this database now: there already, or created here if this role may."""
    if connection.execute(text("select exists (select 1 from pg_extension where extname = 'hll')")).scalar():
        return True
    if not connection.execute(text("select exists (select 1 from pg_available_extensions where name = 'hll')")
                              ).scalar():
        log.info("hll is not installed on this server: beneficiaries stay counted exactly from the rows")
        return False
    if not connection.execute(text("select rolsuper from pg_roles where rolname = current_user")).scalar():
        log.warning("hll is installed but this role may not create it: run `create extension hll` in this "
                    "database as a superuser, then this migration again (downgrade to 0019 and upgrade)")
        return False
    connection.execute(text("create extension hll"))
    return True


def upgrade():
    connection = op.get_bind()
    if connection.dialect.name != 'postgresql' or not _extension(connection):
        return
    for table in TABLES:
        connection.execute(text(f"delete from {table}"))
        connection.execute(text(f"alter table {table} add column subjects hll"))
    connection.execute(text("update stats_rollup set redemption_id = 0, voids_through = :start, ran_at = null"),
                       {"start": datetime(1970, 1, 1)})


def downgrade():
    connection = op.get_bind()
    if connection.dialect.name != 'postgresql':
        return
    for table in TABLES:
        connection.execute(text(f"alter table {table} drop column if exists subjects"))
