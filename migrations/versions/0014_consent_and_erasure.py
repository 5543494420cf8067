"""consent and erasure: the privacy notice a citizen agreed to, the 公众号 openid, and deleted accounts

Revision ID: 0014_consent_and_erasure
Revises: 0013_complaint_partner
Create Date: 2026-12-01 15:30:00

Nullable columns only: the previous release keeps running while this applies (it never reads them).
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_consent_and_erasure'
down_revision = '0013_complaint_partner'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('citizen_accounts') as batch:
        # The version of the privacy notice (backend/auth/privacy.py) the citizen agreed to, and when.
        batch.add_column(sa.Column('privacy_version', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('privacy_agreed_at', sa.DateTime(), nullable=True))
        # The 公众号's openid of this person: not the mini-program's (one person, one openid per app).
        batch.add_column(sa.Column('wechat_oa_openid', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('deleted_at', sa.DateTime(), nullable=True))
        batch.create_unique_constraint('uq_citizen_accounts_wechat_oa_openid', ['wechat_oa_openid'])


def downgrade():
    with op.batch_alter_table('citizen_accounts') as batch:
        batch.drop_constraint('uq_citizen_accounts_wechat_oa_openid', type_='unique')
        batch.drop_column('deleted_at')
        batch.drop_column('wechat_oa_openid')
        batch.drop_column('privacy_agreed_at')
        batch.drop_column('privacy_version')
