"""redemptions: index the day first, then the partner

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 16:20:00

The office's statistics and exports ask for a range of days across every partner; an index led by
the partner could not serve that, so each such request read the whole table. Led by the day, the
one index serves both: a merchant's day (partner and day both equal) and the office's range.
Same number of indexes, so recording a redemption costs the same.
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_day_partner', ['local_day', 'partner_id'], unique=False)
        batch_op.drop_index('ix_redemptions_partner_day')


def downgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_partner_day', ['partner_id', 'local_day'], unique=False)
        batch_op.drop_index('ix_redemptions_day_partner')
