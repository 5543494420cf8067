"""perks' time-of-day windows; partners' hours and their exit (date and reason, kept for 公示)

Revision ID: 0017_perk_windows_partner_exit
Revises: 0016_stats_by_holder
Create Date: 2026-12-01 15:30:00

Nullable columns only: the previous release keeps reading and writing perks and partners while this
applies (a perk without windows is usable all day, a partner without an exit date has not left).
"""
import sqlalchemy as sa
from alembic import op

revision = '0017_perk_windows_partner_exit'
down_revision = '0016_stats_by_holder'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('perks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_windows', sa.JSON(), nullable=True))
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hours', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('left_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('exit_reason', sa.String(length=256), nullable=True))


def downgrade():
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.drop_column('exit_reason')
        batch_op.drop_column('left_on')
        batch_op.drop_column('hours')
    with op.batch_alter_table('perks', schema=None) as batch_op:
        batch_op.drop_column('time_windows')
