"""Removal counters, so caches check freshness in O(1) instead of counting every row.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("changes", sa.Column("name", sa.String(64), primary_key=True),
                    sa.Column("value", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_table("changes")
