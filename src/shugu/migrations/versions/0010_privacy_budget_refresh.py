"""privacy budgets may refresh daily or monthly

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shugu.db import UTCDateTime

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('privacy_budgets') as batch:
        batch.add_column(sa.Column('refresh', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('period_start', UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('privacy_budgets') as batch:
        batch.drop_column('period_start')
        batch.drop_column('refresh')
