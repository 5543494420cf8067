"""statistics' rollups keyed by the pass's issuing city instead of a visitor flag

Revision ID: 0018_rollup_by_issuer
Revises: 0017_perk_windows_partner_exit
Create Date: 2026-12-01 16:10:00

Redemptions record the issuing city of their pass since 0012_federation_tiers, so the statistics
group visitors by their own city: the rollups' `visitor` flag becomes `issuer_code` (the recorded
code; 0 for a visitor's row from before it was recorded, -1 for a holder of this city whose row has
none, which the statistics read as this city's code). They are derived tables, so, as
0016_stats_by_holder did, they are made again empty and the rollup's marks go back to the start:
until `flask stats rollup` next runs every statistic is counted live (docs/running.md). The
previous release names the `visitor` column that is gone: its rollup must not run (stop the timer
first) and its statistics screens answer an error until the new release is serving; redemptions,
passes and the case feed do not read these tables and keep running.
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # as backend/dbtypes.py

revision = '0018_rollup_by_issuer'
down_revision = '0017_perk_windows_partner_exit'
branch_labels = None
depends_on = None

SUMS = ('redemptions', 'amount_fen', 'discount_fen', 'offline')


def _make(origin):
    """The three rollup tables, keyed by `origin()` (a fresh column for each table) besides the rest."""
    def sums():
        return [sa.Column(name, sa.BigInteger(), nullable=False) for name in SUMS]
    key = origin().name
    op.create_table(
        'daily_stats',
        sa.Column('local_day', sa.Date(), nullable=False),
        sa.Column('partner_id', BigId, autoincrement=False, nullable=False),
        sa.Column('tier_level', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('holder_kind', sa.String(16), nullable=False),
        origin(), *sums(),
        sa.PrimaryKeyConstraint('local_day', 'partner_id', 'tier_level', 'holder_kind', key,
                                name=op.f('pk_daily_stats')),
    )
    op.create_table(
        'monthly_stats',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('partner_id', BigId, autoincrement=False, nullable=False),
        sa.Column('tier_level', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('holder_kind', sa.String(16), nullable=False),
        origin(), *sums(),
        sa.PrimaryKeyConstraint('month', 'partner_id', 'tier_level', 'holder_kind', key,
                                name=op.f('pk_monthly_stats')),
    )
    op.create_table(
        'day_totals',
        sa.Column('local_day', sa.Date(), nullable=False),
        *sums(),
        sa.PrimaryKeyConstraint('local_day', name=op.f('pk_day_totals')),
    )


def _again(origin):
    for name in ('day_totals', 'monthly_stats', 'daily_stats'):
        op.drop_table(name)
    _make(origin)
    op.execute(sa.text("UPDATE stats_rollup SET redemption_id = 0, voids_through = :start, ran_at = NULL")
               .bindparams(start=datetime(1970, 1, 1)))


def upgrade():
    _again(lambda: sa.Column('issuer_code', sa.Integer(), autoincrement=False, nullable=False))


def downgrade():
    _again(lambda: sa.Column('visitor', sa.Boolean(), nullable=False))
