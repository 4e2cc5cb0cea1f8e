"""The style stage: renders record the network that painted them, and stored parameters gain
the style fields (off), so their text and hash match today's schema.

Revision ID: 0004
Revises: 0003
"""

import hashlib

import sqlalchemy as sa
from alembic import op

from prismarec.renderer.params import PARAMS_VERSION, RenderParams

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("renders") as batch:
        batch.add_column(sa.Column("style_model", sa.String(64), nullable=True))
    renders = sa.table("renders", sa.column("id", sa.Integer), sa.column("params", sa.Text),
                       sa.column("params_hash", sa.String), sa.column("params_version", sa.Integer))
    conn = op.get_bind()
    old = sa.select(renders.c.id, renders.c.params, renders.c.params_version).where(
        renders.c.params_version < PARAMS_VERSION)
    for row in conn.execute(old).all():
        params, _ = RenderParams.from_stored(row.params, row.params_version)
        text = params.to_json()
        conn.execute(renders.update().where(renders.c.id == row.id).values(
            params=text, params_hash=hashlib.sha256(text.encode()).hexdigest(), params_version=PARAMS_VERSION))


def downgrade() -> None:
    with op.batch_alter_table("renders") as batch:
        batch.drop_column("style_model")
