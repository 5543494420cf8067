"""federation: this city's trust-list signing key and its partner cities

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 13:00:00

New tables only: the previous release keeps running while this applies.
"""
import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # as backend/dbtypes.py

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'federation_keys',
        sa.Column('id', BigId, nullable=False),
        sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
        sa.Column('private_key_encrypted', sa.LargeBinary(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_federation_keys')),
    )
    op.create_table(
        'partner_cities',
        sa.Column('id', BigId, nullable=False),
        sa.Column('url', sa.String(length=512), nullable=False),
        sa.Column('pinned_key', sa.LargeBinary(length=32), nullable=False),
        sa.Column('issuer_code', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=128), nullable=True),
        sa.Column('last_issued_at', sa.DateTime(), nullable=True),
        sa.Column('trusted_until', sa.DateTime(), nullable=True),
        sa.Column('last_synced_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('added_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_cities')),
        sa.UniqueConstraint('url', name=op.f('uq_partner_cities_url')),
    )


def downgrade():
    op.drop_table('partner_cities')
    op.drop_table('federation_keys')
