"""complaint partner: a complaint names its partner; the four statuses, the assignee, and photos kept in files

Revision ID: 0013_complaint_partner
Revises: 0012_federation_tiers
Create Date: 2026-12-01 15:40:00

New nullable columns and a new table; the status check is rebuilt with the old values renamed
(open → submitted, answered → closed). The previous release writes 'open' and would be refused
by the new check while this applies: objections are rare and a citizen's retry succeeds on the new
release, so this is accepted rather than a two-step migration.
"""
import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')  # as backend/dbtypes.py

revision = '0013_complaint_partner'
down_revision = '0012_federation_tiers'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_objections_status'), type_='check')
        batch_op.add_column(sa.Column('partner_id', BigId, nullable=True))
        batch_op.add_column(sa.Column('accepted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('assigned_to', BigId, nullable=True))
        batch_op.create_foreign_key(op.f('fk_objections_partner_id_partners'), 'partners', ['partner_id'], ['id'])
        batch_op.create_foreign_key(op.f('fk_objections_assigned_to_office_users'), 'office_users',
                                    ['assigned_to'], ['id'])
        batch_op.create_index(op.f('ix_objections_partner_id'), ['partner_id'], unique=False)
    op.execute("update objections set status = 'submitted' where status = 'open'")
    op.execute("update objections set status = 'closed', accepted_at = answered_at where status = 'answered'")
    # A complaint about a redemption already names its partner through it.
    op.execute("update objections set partner_id = (select partner_id from redemptions "
               "where redemptions.id = objections.redemption_id) where redemption_id is not null")
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_objections_status'),
                                         "status in ('submitted', 'accepted', 'in_progress', 'closed')")
    op.create_table(
        'objection_photos',
        sa.Column('id', BigId, nullable=False),
        sa.Column('objection_id', BigId, nullable=False),
        sa.Column('stored_name', sa.String(length=64), nullable=False),
        sa.Column('content_type', sa.String(length=16), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['objection_id'], ['objections.id'],
                                name=op.f('fk_objection_photos_objection_id_objections'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_objection_photos')),
        sa.UniqueConstraint('stored_name', name=op.f('uq_objection_photos_stored_name')),
    )
    op.create_index(op.f('ix_objection_photos_objection_id'), 'objection_photos', ['objection_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_objection_photos_objection_id'), table_name='objection_photos')
    op.drop_table('objection_photos')
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_objections_status'), type_='check')
    op.execute("update objections set status = 'open' where status <> 'closed'")
    op.execute("update objections set status = 'answered' where status = 'closed'")
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.drop_index(op.f('ix_objections_partner_id'))
        batch_op.drop_constraint(op.f('fk_objections_assigned_to_office_users'), type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_objections_partner_id_partners'), type_='foreignkey')
        batch_op.drop_column('assigned_to')
        batch_op.drop_column('accepted_at')
        batch_op.drop_column('partner_id')
        batch_op.create_check_constraint(op.f('ck_objections_status'), "status in ('open', 'answered')")

