"""objections: citizens' objections and complaints, answered by the office within a time limit

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:50:00

A new table only: the previous release keeps running while this applies.
"""
import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # as backend/dbtypes.py

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'objections',
        sa.Column('id', BigId, nullable=False),
        sa.Column('account_id', BigId, nullable=False),
        sa.Column('subject_id', BigId, nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('redemption_id', BigId, nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('due_at', sa.DateTime(), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('answered_at', sa.DateTime(), nullable=True),
        sa.Column('answered_by', sa.String(length=64), nullable=True),
        sa.CheckConstraint("kind in ('credit', 'redemption', 'complaint')", name=op.f('ck_objections_kind')),
        sa.CheckConstraint("status in ('open', 'answered')", name=op.f('ck_objections_status')),
        sa.ForeignKeyConstraint(['account_id'], ['citizen_accounts.id'], name=op.f('fk_objections_account_id_citizen_accounts')),
        sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_objections_redemption_id_redemptions')),
        sa.ForeignKeyConstraint(['subject_id'], ['credit_subjects.id'], name=op.f('fk_objections_subject_id_credit_subjects')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_objections')),
    )
    op.create_index(op.f('ix_objections_account_id'), 'objections', ['account_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_objections_account_id'), table_name='objections')
    op.drop_table('objections')
