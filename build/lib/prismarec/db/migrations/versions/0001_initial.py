"""Initial schema: photos, embeddings, guides, renders, curators, verdicts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _created() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        _created(),
    )
    op.create_table(
        "embeddings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("photo_id", sa.Integer, sa.ForeignKey("photos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("backbone", sa.String(64), nullable=False, index=True),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        _created(),
        sa.UniqueConstraint("photo_id", "backbone"),
    )
    op.create_table(
        "guides",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        _created(),
    )
    op.create_table(
        "renders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("photo_id", sa.Integer, sa.ForeignKey("photos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("guide_id", sa.Integer, sa.ForeignKey("guides.id", ondelete="SET NULL"), nullable=True),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("params_hash", sa.String(64), nullable=False),
        sa.Column("backbone", sa.String(64), nullable=True),
        sa.Column("output_path", sa.Text, nullable=False),
        sa.Column("timings", sa.Text, nullable=False),
        _created(),
    )
    op.create_index("ix_renders_job", "renders", ["photo_id", "guide_id", "params_hash"])
    op.create_table(
        "curators",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=True),
        _created(),
    )
    op.create_table(
        "verdicts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("render_id", sa.Integer, sa.ForeignKey("renders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("curator_id", sa.Integer, sa.ForeignKey("curators.id", ondelete="CASCADE"), nullable=False),
        sa.Column("verdict", sa.String(4), nullable=False),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("current", sa.Boolean, nullable=False),
        _created(),
        sa.CheckConstraint("verdict IN ('good', 'bad')", name="ck_verdict_kind"),
        sa.CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="ck_verdict_score"),
    )
    op.create_index("ix_verdicts_current", "verdicts", ["render_id", "current"])


def downgrade() -> None:
    for table in ("verdicts", "curators", "renders", "guides", "embeddings", "photos"):
        op.drop_table(table)
