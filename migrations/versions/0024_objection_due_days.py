"""objections keep the count of working days their due date was set with

Revision ID: 0024_objection_due_days
Revises: 0023_calendar_years
Create Date: 2026-12-02 13:00:00

A nullable column (no rewrite of the table): the previous release keeps filing objections while this
applies, and those, like every older one, have none; a calendar change counts theirs with the
OBJECTION_DUE_WORKING_DAYS of the day it happens (backend/recourse/due.py).
"""
import sqlalchemy as sa
from alembic import op

revision = '0024_objection_due_days'
down_revision = '0023_calendar_years'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_working_days', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.drop_column('due_working_days')
