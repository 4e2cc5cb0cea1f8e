"""Parameters of version 4: painting filters (`painting`) and where the style paints (`style_at`).

Every stored render is rewritten to today's schema (the new fields take their defaults, which
render exactly as before; `db.migrations.restate`).

Revision ID: 0007
Revises: 0006
"""

from prismarec.db.migrations.restate import restate_stored_params

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    restate_stored_params()


def downgrade() -> None:
    """Nothing to undo: the rewritten text still holds every earlier field."""
