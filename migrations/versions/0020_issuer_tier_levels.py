"""pass_issuers.tier_levels: the levels a partner issuer publishes, for rule 9 of its passes

Revision ID: 0020_issuer_tier_levels
Revises: 0019_partition_redemptions
Create Date: 2026-12-08 10:00:00

One nullable column: the previous release keeps running while this applies (it never reads it, and a
NULL means "this city's levels", which is what it applies to every pass). Partner cities whose trust
list was applied before this get their published levels from that list (partner_cities.tiers) at
once, so their passes need not wait for the next sync.
"""
import sqlalchemy as sa
from alembic import op

revision = '0020_issuer_tier_levels'
down_revision = '0019_partition_redemptions'
branch_labels = None
depends_on = None

partner_cities = sa.table('partner_cities', sa.column('issuer_code', sa.Integer), sa.column('tiers', sa.JSON))
pass_issuers = sa.table('pass_issuers', sa.column('code', sa.Integer), sa.column('local', sa.Boolean),
                        sa.column('tier_levels', sa.JSON))


def upgrade():
    with op.batch_alter_table('pass_issuers') as batch:
        batch.add_column(sa.Column('tier_levels', sa.JSON(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(partner_cities.c.issuer_code, partner_cities.c.tiers)
                              .where(partner_cities.c.issuer_code.is_not(None))).all()
    for issuer_code, tiers in rows:
        levels = {str(tier['level']): str(tier.get('code', '')) for tier in tiers or []
                  if isinstance(tier, dict) and isinstance(tier.get('level'), int)}
        connection.execute(sa.update(pass_issuers).where(pass_issuers.c.code == issuer_code,
                                                         pass_issuers.c.local.is_(False))
                           .values(tier_levels=levels))


def downgrade():
    with op.batch_alter_table('pass_issuers') as batch:
        batch.drop_column('tier_levels')
