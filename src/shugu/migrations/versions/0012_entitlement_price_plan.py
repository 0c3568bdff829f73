"""entitlement price plan (precedence among several live entitlements)

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('unit_price_fen', sa.BigInteger(), nullable=True))
    # Existing agreement entitlements take the plan and price their agreement froze.
    op.execute(
        "UPDATE entitlements SET "
        "plan = (SELECT a.plan FROM agreements a WHERE a.entitlement_id = entitlements.id), "
        "unit_price_fen = (SELECT a.price_fen FROM agreements a "
        "WHERE a.entitlement_id = entitlements.id) "
        "WHERE source = 'agreement'")


def downgrade() -> None:
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.drop_column('unit_price_fen')
        batch_op.drop_column('plan')
