"""Parameters of version 5: `size` may be auto or full, and the windows `n1`-`n3` and `jitter` are
stated at 480 pixels wide whatever the size (before, in pixels of the render's own width).

Every stored render is rewritten to today's schema (a set stored at another width has its
windows restated at 480 px, so it renders as before; `db.migrations.restate`).

Revision ID: 0008
Revises: 0007
"""

from prismarec.db.migrations.restate import restate_stored_params

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    restate_stored_params()


def downgrade() -> None:
    """Nothing to undo: the restated windows render the same set."""
