"""federation: tier mapping per partner city, visitors' day tags, the issuing city on each case

Revision ID: 0012_federation_tiers
Revises: 0011
Create Date: 2026-12-01 16:00:00

Nullable columns and one new unique key only: the previous release keeps running while this applies
(it writes NULL in the new columns, which the new release reads as "this city's own pass").
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_federation_tiers'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('partner_cities') as batch:
        batch.add_column(sa.Column('endpoint', sa.String(length=512), nullable=True))
        batch.add_column(sa.Column('tiers', sa.JSON(), nullable=True))
    with op.batch_alter_table('pass_issuers') as batch:
        batch.add_column(sa.Column('tier_map', sa.JSON(), nullable=True))
    with op.batch_alter_table('redemptions') as batch:
        batch.add_column(sa.Column('issuer_code', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('visitor_tag', sa.String(length=32), nullable=True))
        batch.create_unique_constraint(op.f('uq_redemptions_perk_id_visitor_tag_local_day_day_slot'),
                                       ['perk_id', 'visitor_tag', 'local_day', 'day_slot'])
    with op.batch_alter_table('failed_attempts') as batch:
        batch.add_column(sa.Column('issuer_code', sa.Integer(), nullable=True))
    # Every redemption recorded so far with a holder here was of this city's own pass.
    op.execute("UPDATE redemptions SET issuer_code = (SELECT code FROM pass_issuers WHERE local = true) "
               "WHERE subject_id IS NOT NULL")


def downgrade():
    with op.batch_alter_table('failed_attempts') as batch:
        batch.drop_column('issuer_code')
    with op.batch_alter_table('redemptions') as batch:
        batch.drop_constraint(op.f('uq_redemptions_perk_id_visitor_tag_local_day_day_slot'), type_='unique')
        batch.drop_column('visitor_tag')
        batch.drop_column('issuer_code')
    with op.batch_alter_table('pass_issuers') as batch:
        batch.drop_column('tier_map')
    with op.batch_alter_table('partner_cities') as batch:
        batch.drop_column('tiers')
        batch.drop_column('endpoint')
