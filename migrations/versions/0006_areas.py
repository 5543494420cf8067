"""areas (街道/社区) and the partner's area

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:30:00

A city's reference data (`flask city load`, backend/city/) names the streets and communities a pilot
runs in, and where each partner is. The new column is nullable, so the previous release keeps
writing partners while this applies.
"""
import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # as backend/dbtypes.py

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'areas',
        sa.Column('id', BigId, nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('parent_code', sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_areas')),
        sa.UniqueConstraint('code', name=op.f('uq_areas_code')),
    )
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('area_id', BigId, nullable=True))
        batch_op.create_foreign_key(op.f('fk_partners_area_id_areas'), 'areas', ['area_id'], ['id'])


def downgrade():
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_partners_area_id_areas'), type_='foreignkey')
        batch_op.drop_column('area_id')
    op.drop_table('areas')
