"""credit subjects keep the public credit platform's own key for them, to report cases back by it

Revision ID: 0015_subject_key
Revises: 0014_consent_and_erasure
Create Date: 2026-12-01 15:30:00

A nullable column only: the previous release keeps running while this applies (it never reads it,
and its imports leave it empty). No index: cases look the key up by the subject's id.
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_subject_key'
down_revision = '0014_consent_and_erasure'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('credit_subjects') as batch:
        batch.add_column(sa.Column('subject_key', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('credit_subjects') as batch:
        batch.drop_column('subject_key')
