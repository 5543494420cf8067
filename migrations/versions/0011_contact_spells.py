"""contact spells: when the server kept hearing from each scanner, to bound offline scans

Revision ID: 0011
Revises: 0010_daily_stats
Create Date: 2026-12-01 13:30:00

A new table only: the previous release keeps running while this applies (it never writes it).
"""
import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # as backend/dbtypes.py

revision = '0011'
down_revision = '0010_daily_stats'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'contact_spells',
        sa.Column('id', BigId, nullable=False),
        sa.Column('device_id', BigId, nullable=True),
        sa.Column('staff_id', BigId, nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('(device_id is null) != (staff_id is null)', name=op.f('ck_contact_spells_one_scanner')),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_contact_spells_device_id_devices'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['staff_id'], ['merchant_staff.id'],
                                name=op.f('fk_contact_spells_staff_id_merchant_staff'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_spells')),
    )
    op.create_index('ix_contact_spells_device', 'contact_spells', ['device_id', 'ended_at'])
    op.create_index('ix_contact_spells_staff', 'contact_spells', ['staff_id', 'ended_at'])


def downgrade():
    op.drop_index('ix_contact_spells_staff', table_name='contact_spells')
    op.drop_index('ix_contact_spells_device', table_name='contact_spells')
    op.drop_table('contact_spells')
