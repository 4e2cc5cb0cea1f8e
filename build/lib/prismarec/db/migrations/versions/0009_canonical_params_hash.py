"""`params_hash` over the values that differ from the defaults, not the whole parameter text.

A field added later with a default then changes no stored hash (no data migration for it), and
values JSON spells two ways (1 and 1.0) hash as one. Every stored render's hash is recomputed,
so a sweep or a batch run again still finds the renders it made (`db.migrations.restate`).

Revision ID: 0009
Revises: 0008
"""

from prismarec.db.migrations.restate import restate_stored_params

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    restate_stored_params()


def downgrade() -> None:
    """Not reversible here: the code before 0009 hashes the whole text, so going back would mean
    recomputing every hash its way (restore a backup taken before upgrading instead)."""
