"""statistics' rollups keyed by holder kind and visitor too, with the offline count

Revision ID: 0016_stats_by_holder
Revises: 0015_subject_key
Create Date: 2026-12-01 15:30:00

The office groups its statistics by holder kind (个人/企业) and by issuing city (this city's holders,
or a partner city's pass), and shows the offline share: the rollups gain those keys and an `offline`
sum. They are derived tables, so they are made again empty and the rollup's marks go back to the
start: until `flask stats rollup` next runs every statistic is counted live, exactly as before the
first rollup (docs/running.md). The previous release reads these tables only through its own
rollup, whose rows it can no longer find here: it counts live too, so it keeps running while this
applies (its `flask stats rollup` must not run once this has: stop the timer first).
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # as backend/dbtypes.py

revision = '0016_stats_by_holder'
down_revision = '0015_subject_key'
branch_labels = None
depends_on = None

SUMS = ('redemptions', 'amount_fen', 'discount_fen')


def _sums(offline: bool):
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in (*SUMS, *(('offline',) if offline else ()))]


def _make(extended: bool):
    keys = ['holder_kind', 'visitor'] if extended else []
    extra = [sa.Column('holder_kind', sa.String(16), nullable=False),
             sa.Column('visitor', sa.Boolean(), nullable=False)] if extended else []
    op.create_table(
        'daily_stats',
        sa.Column('local_day', sa.Date(), nullable=False),
        sa.Column('partner_id', BigId, autoincrement=False, nullable=False),
        sa.Column('tier_level', sa.Integer(), autoincrement=False, nullable=False),
        *extra, *_sums(extended),
        sa.PrimaryKeyConstraint('local_day', 'partner_id', 'tier_level', *keys, name=op.f('pk_daily_stats')),
    )
    op.create_table(
        'monthly_stats',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('partner_id', BigId, autoincrement=False, nullable=False),
        sa.Column('tier_level', sa.Integer(), autoincrement=False, nullable=False),
        *[sa.Column(c.name, c.type, nullable=False) for c in extra], *_sums(extended),
        sa.PrimaryKeyConstraint('month', 'partner_id', 'tier_level', *keys, name=op.f('pk_monthly_stats')),
    )
    op.create_table(
        'day_totals',
        sa.Column('local_day', sa.Date(), nullable=False),
        *_sums(extended),
        sa.PrimaryKeyConstraint('local_day', name=op.f('pk_day_totals')),
    )


def _again(extended: bool):
    for name in ('day_totals', 'monthly_stats', 'daily_stats'):
        op.drop_table(name)
    _make(extended)
    op.execute(sa.text("UPDATE stats_rollup SET redemption_id = 0, voids_through = :start, ran_at = NULL")
               .bindparams(start=datetime(1970, 1, 1)))


def upgrade():
    _again(True)


def downgrade():
    _again(False)
