"""Opening the database: engine, SQLite pragmas (WAL, foreign keys, write locks taken up front), migrations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .paths import default_url

MIGRATIONS = Path(__file__).with_name("migrations")
LOCK_TIMEOUT_S = 20.0  # how long a write waits for another process's transaction ($PRISMAREC_LOCK_TIMEOUT)


class NotFound(LookupError):
    """No stored photo, guide or render with that id."""


class StorageError(RuntimeError):
    """The database cannot be used (damaged, read-only, locked, unreachable); the message says what to do."""


READ_ONLY = "prismarec_read_only"  # execution option of the engine behind `Database.reading()`


class Database:
    """An engine plus session factories: `with db.session() as s:` writes (commits or rolls back),
    `with db.reading() as s:` reads and never waits for a writer.

    Failures of the database itself come out as one-line `StorageError`s naming it.
    """

    def __init__(self, url: str | None = None, *, lock_timeout: float | None = None):
        self.url = url or default_url()
        lock_timeout = lock_timeout or float(os.environ.get("PRISMAREC_LOCK_TIMEOUT") or LOCK_TIMEOUT_S)
        try:
            parsed = make_url(self.url)
        except ArgumentError:
            raise ValueError(f"not a database URL: {self.url!r}") from None
        self.name = parsed.database if parsed.get_backend_name() == "sqlite" else parsed.render_as_string()
        self.lock_timeout = lock_timeout
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:" and "mode=ro" not in self.url:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(self.url, connect_args={"timeout": lock_timeout}
                                                if self.is_sqlite else {})
        except ImportError as exc:
            raise StorageError(f"{self.name}: the database driver is not installed ({exc.name}); "
                               "for PostgreSQL: pip install -e '.[postgres]'") from None
        if self.is_sqlite:
            _sqlite_pragmas(self.engine, lock_timeout)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        with self.errors():
            migrate(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction that may write: on SQLite it takes the write lock at BEGIN, so writers queue."""
        with self.errors(), self._sessions() as s, s.begin():
            yield s

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads: on SQLite a deferred BEGIN, which under WAL reads a
        snapshot while another process writes, instead of queueing behind it."""
        with self.errors(), self._readers() as s, s.begin():
            yield s

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn the driver's failures into a StorageError that names the database and the remedy."""
        try:
            yield
        except IntegrityError:  # a constraint, not the database, said no
            raise
        except DBAPIError as exc:
            raise StorageError(f"database {self.name}: {_advice(str(exc.orig), self.lock_timeout)}") from None

    def check_writable(self) -> None:
        """Fail now, before any work, if a write would fail later (read-only, locked, damaged)."""
        with self.errors(), self.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = version_num"))

    def close(self) -> None:
        self.engine.dispose()


def _advice(reason: str, lock_timeout: float) -> str:
    low = reason.lower()
    if "readonly" in low or "read-only" in low:
        return f"{reason}; it is read-only: make the file and its folder writable, or use --db with another URL"
    if "locked" in low:
        return (f"locked by another process (waited {lock_timeout:.0f} s); try again when it finishes")
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return (f"{reason}: the file is damaged or not a database; restore it from a backup, or move it aside "
                "and a new, empty one is created")
    return reason


def _sqlite_pragmas(engine: Engine, lock_timeout: float) -> None:
    """WAL so readers never block, foreign keys on, and BEGIN IMMEDIATE for writing sessions so
    two writers queue on the busy timeout instead of failing when one upgrades a read lock;
    reading sessions begin deferred and never wait."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        dbapi_conn.isolation_level = None  # let the "begin" hook issue BEGIN itself
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={int(lock_timeout * 1000)}",
                       "synchronous=NORMAL"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # noqa: ANN001
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is current).

    On SQLite foreign keys are off while migrations run: recreating a table drops the old one,
    and with foreign keys on that drop would cascade to every row referring to it."""
    cfg = alembic_config()
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:  # a check that never waits
        if MigrationContext.configure(conn).get_current_revision() == head:
            return
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        raw = conn.connection.dbapi_connection
        if sqlite:  # outside any transaction, where the pragma takes effect
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")
