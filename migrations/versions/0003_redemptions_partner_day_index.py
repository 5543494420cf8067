"""redemptions: index a merchant's day

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:10:00

The merchant's history and today's totals (every scanner asks for them) filter redemptions by
partner and local day; without this index each request scanned the whole table.
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_partner_day', ['partner_id', 'local_day'], unique=False)


def downgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_partner_day')
