"""daily_stats, monthly_stats, day_totals and stats_rollup: the statistics' rollups, and an index of voids

Revision ID: 0010_daily_stats
Revises: 0009
Create Date: 2026-12-01 13:00:00

New tables, and a partial index that holds voided redemptions only (built concurrently on
PostgreSQL, so recording goes on while it builds): the previous release keeps running while this
applies. The rollup starts empty (it holds nothing up to redemption 0), so statistics are counted
live until `flask stats rollup` first runs.
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # as backend/dbtypes.py

revision = '0010_daily_stats'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'daily_stats',
        sa.Column('local_day', sa.Date(), nullable=False),
        sa.Column('partner_id', BigId, autoincrement=False, nullable=False),
        sa.Column('tier_level', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('redemptions', sa.BigInteger(), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.Column('discount_fen', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('local_day', 'partner_id', 'tier_level', name=op.f('pk_daily_stats')),
    )
    op.create_table(
        'monthly_stats',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('partner_id', BigId, autoincrement=False, nullable=False),
        sa.Column('tier_level', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('redemptions', sa.BigInteger(), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.Column('discount_fen', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('month', 'partner_id', 'tier_level', name=op.f('pk_monthly_stats')),
    )
    op.create_table(
        'day_totals',
        sa.Column('local_day', sa.Date(), nullable=False),
        sa.Column('redemptions', sa.BigInteger(), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.Column('discount_fen', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('local_day', name=op.f('pk_day_totals')),
    )
    state = op.create_table(
        'stats_rollup',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('redemption_id', sa.BigInteger(), nullable=False),
        sa.Column('voids_through', sa.DateTime(), nullable=False),
        sa.Column('ran_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_rollup')),
    )
    op.bulk_insert(state, [{'id': 1, 'redemption_id': 0, 'voids_through': datetime(1970, 1, 1), 'ran_at': None}])
    voided = sa.text('voided_at IS NOT NULL')
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.create_index('ix_redemptions_voided_at', 'redemptions', ['voided_at'], postgresql_where=voided,
                            postgresql_concurrently=True)
    else:
        op.create_index('ix_redemptions_voided_at', 'redemptions', ['voided_at'], sqlite_where=voided)


def downgrade():
    op.drop_index('ix_redemptions_voided_at', table_name='redemptions')
    op.drop_table('stats_rollup')
    op.drop_table('day_totals')
    op.drop_table('monthly_stats')
    op.drop_table('daily_stats')
