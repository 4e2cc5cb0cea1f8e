"""Renders get `layer` and `mask` columns (from their parameters) so galleries can filter fast.

Revision ID: 0002
Revises: 0001
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("renders") as batch:
        batch.add_column(sa.Column("layer", sa.String(64), nullable=True))
        batch.add_column(sa.Column("mask", sa.String(64), nullable=True))
        batch.create_index("ix_renders_layer", ["layer"])
        batch.create_index("ix_renders_mask", ["mask"])
    renders = sa.table("renders", sa.column("id", sa.Integer), sa.column("params", sa.Text),
                       sa.column("layer", sa.String), sa.column("mask", sa.String))
    conn = op.get_bind()
    for row in conn.execute(sa.select(renders.c.id, renders.c.params)).all():
        params = json.loads(row.params)
        conn.execute(renders.update().where(renders.c.id == row.id)
                     .values(layer=params.get("layer"), mask=params.get("mask")))


def downgrade() -> None:
    with op.batch_alter_table("renders") as batch:
        batch.drop_index("ix_renders_layer")
        batch.drop_index("ix_renders_mask")
        batch.drop_column("layer")
        batch.drop_column("mask")
