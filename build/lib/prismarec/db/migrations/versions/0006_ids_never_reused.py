"""Ids are never reused: SQLite tables get AUTOINCREMENT; renders are found by their file.

Without it SQLite hands a deleted row's id (the largest) to the next insert, so after
`delete render 4` the next render was 4 again and bookmarks, `/render/4` and `tag 4` reached
other work. Each table is recreated with its rows, constraints and indexes (foreign keys are
off during the migration, so no cascade fires); the new sequence starts after the largest id
still stored. PostgreSQL's sequences never go back, so there is nothing to do there.
An index on `renders.output_path` lets a new render check that no earlier one owns its file.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("photos", "guides", "embeddings", "curators", "renders", "verdicts")


def upgrade() -> None:
    op.create_index("ix_renders_output", "renders", ["output_path"])
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    op.drop_index("ix_renders_output", "renders")
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
