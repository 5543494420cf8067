"""redemptions: one foreign key for (perk, partner)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 12:10:00

A redemption named its perk and its partner with two separate foreign keys, so nothing stopped a
row pairing one partner with another partner's perk, and every insert checked (and key-share
locked) two hot parent rows. One composite key to perks (id, partner_id) states the real fact;
the partner's existence follows from the perk's own key to partners.
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('perks', schema=None) as batch_op:
        batch_op.create_unique_constraint(op.f('uq_perks_id_partner_id'), ['id', 'partner_id'])
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_constraint('fk_redemptions_partner_id_partners', type_='foreignkey')
        batch_op.drop_constraint('fk_redemptions_perk_id_perks', type_='foreignkey')
        batch_op.create_foreign_key(op.f('fk_redemptions_perk_id_perks'), 'perks',
                                    ['perk_id', 'partner_id'], ['id', 'partner_id'])


def downgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_constraint('fk_redemptions_perk_id_perks', type_='foreignkey')
        batch_op.create_foreign_key(op.f('fk_redemptions_perk_id_perks'), 'perks', ['perk_id'], ['id'])
        batch_op.create_foreign_key(op.f('fk_redemptions_partner_id_partners'), 'partners', ['partner_id'], ['id'])
    with op.batch_alter_table('perks', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_perks_id_partner_id'), type_='unique')
