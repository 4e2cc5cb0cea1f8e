"""Stored parameters carry a schema version and are upgraded to it; one current verdict per curator.

* `renders.params_version`: rows written before it existed are version 1 and are rewritten
  to today's schema (`RenderParams.from_stored`): version 1 dreamt conv layers after their
  ReLU, so they get `post_relu: true`; a value today's rules reject is replaced, and the text
  as first stored is kept in `renders.params_original`. `params_hash` follows the new text.
* `verdicts`: where concurrent re-tags left two current verdicts of one curator on one
  render, the newest stays current; a partial unique index keeps it so.

Revision ID: 0003
Revises: 0002
"""

import hashlib

import sqlalchemy as sa
from alembic import op

from prismarec.renderer.params import PARAMS_VERSION, RenderParams

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("renders") as batch:
        batch.add_column(sa.Column("params_version", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("params_original", sa.Text, nullable=True))
    renders = sa.table("renders", sa.column("id", sa.Integer), sa.column("params", sa.Text),
                       sa.column("params_hash", sa.String), sa.column("params_version", sa.Integer),
                       sa.column("params_original", sa.Text))
    conn = op.get_bind()
    for row in conn.execute(sa.select(renders.c.id, renders.c.params)).all():
        params, _ = RenderParams.from_stored(row.params, 1)
        text = params.to_json()
        conn.execute(renders.update().where(renders.c.id == row.id).values(
            params=text, params_hash=hashlib.sha256(text.encode()).hexdigest(), params_version=PARAMS_VERSION,
            params_original=row.params))

    verdicts = sa.table("verdicts", sa.column("id", sa.Integer), sa.column("render_id", sa.Integer),
                        sa.column("curator_id", sa.Integer), sa.column("current", sa.Boolean))
    newest = (sa.select(sa.func.max(verdicts.c.id)).where(verdicts.c.current.is_(True))
              .group_by(verdicts.c.render_id, verdicts.c.curator_id))
    conn.execute(verdicts.update().where(verdicts.c.current.is_(True), verdicts.c.id.not_in(newest))
                 .values(current=False))
    op.create_index("ux_verdicts_one_current", "verdicts", ["render_id", "curator_id"], unique=True,
                    sqlite_where=sa.text('"current"'), postgresql_where=sa.text('"current"'))


def downgrade() -> None:
    op.drop_index("ux_verdicts_one_current", "verdicts")
    with op.batch_alter_table("renders") as batch:
        batch.drop_column("params_original")
        batch.drop_column("params_version")
