"""The step of a migration that rewrites every stored parameter set to today's schema.

It goes through `RenderParams.from_stored`, the one reader that upgrades parameters of every
version (stored rows and parameter files alike), rather than a frozen copy per migration: a copy
would repeat the field table, the range repair and the hash in each. Each migration's outcome on
rows of versions 1, 2 and 4 is pinned by `tests/db/test_store.py`; a new version adds its step to
`from_stored` and a migration that calls this again.
"""

import sqlalchemy as sa
from alembic import op

from prismarec.db.store import params_hash
from prismarec.renderer.params import PARAMS_VERSION, RenderParams


def restate_stored_params() -> None:
    """Each render's parameters through `RenderParams.from_stored` (never refused: upgraded, values
    today's rules reject replaced), its `params_hash` following the new values, so a sweep or a
    batch run again still finds the renders it made. The text as first stored is kept in
    `params_original` where a value had to be replaced (and none was kept before)."""
    renders = sa.table("renders", sa.column("id", sa.Integer), sa.column("params", sa.Text),
                       sa.column("params_hash", sa.String), sa.column("params_version", sa.Integer),
                       sa.column("params_original", sa.Text))
    conn = op.get_bind()
    rows = conn.execute(sa.select(renders.c.id, renders.c.params, renders.c.params_version,
                                  renders.c.params_original)).all()
    for row in rows:
        params, notes = RenderParams.from_stored(row.params, row.params_version)
        original = row.params if notes and row.params_original is None else row.params_original
        conn.execute(renders.update().where(renders.c.id == row.id).values(
            params=params.to_json(), params_hash=params_hash(params), params_version=PARAMS_VERSION,
            params_original=original))
