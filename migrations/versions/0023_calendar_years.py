"""holiday calendars' years and what each rests on (the notice its days were checked against)

Revision ID: 0023_calendar_years
Revises: 0022_stats_sketches
Create Date: 2026-12-02 12:00:00

A new table that the previous release does not read: it keeps running while this applies. No year
gets a row: until the office confirms a year (or `flask city load` gives it a `basis`) it reads as
provisional, which only shows as a warning on the office's screens.
"""
import sqlalchemy as sa
from alembic import op

revision = '0023_calendar_years'
down_revision = '0022_stats_sketches'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'holiday_calendar_years',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('calendar', sa.String(length=32), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('basis', sa.String(length=200), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_holiday_calendar_years')),
        sa.UniqueConstraint('calendar', 'year', name=op.f('uq_holiday_calendar_years_calendar_year'))
    )


def downgrade():
    op.drop_table('holiday_calendar_years')
