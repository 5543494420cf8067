"""holiday calendars' make-up working days (调休上班): a kind for each day, holiday or workday

Revision ID: 0021_calendar_workdays
Revises: 0020_issuer_tier_levels
Create Date: 2026-12-02 10:00:00

Every existing day is a holiday (the server default), so the previous release keeps reading and
adding days while this applies; it would take a make-up working day for a holiday, so add those
(`flask city load`, the office's calendar screen) only once the new release runs.
"""
import sqlalchemy as sa
from alembic import op

revision = '0021_calendar_workdays'
down_revision = '0020_issuer_tier_levels'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('holiday_calendar_days', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='holiday', nullable=False))
        batch_op.create_check_constraint(op.f('ck_holiday_calendar_days_kind'), "kind in ('holiday', 'workday')")


def downgrade():
    # A make-up working day would read as a holiday to the previous release: it goes.
    op.execute("delete from holiday_calendar_days where kind = 'workday'")
    with op.batch_alter_table('holiday_calendar_days', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_holiday_calendar_days_kind'), type_='check')
        batch_op.drop_column('kind')
