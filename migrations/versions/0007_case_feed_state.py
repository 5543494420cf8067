"""case_feed_state: where the push of the case feed to the provincial platform stands

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:40:00

One row: the cursor the platform acknowledged last and the end of the batch on its way, so that a
pusher that restarts sends that same batch again and never skips one (backend/office/case_push.py).
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_feed_state',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('acknowledged', sa.String(length=80), nullable=False),
        sa.Column('pending', sa.String(length=80), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_feed_state')),
    )


def downgrade():
    op.drop_table('case_feed_state')
