"""Bring a course database to the current schema (Alembic ``upgrade head``) on open.

Runs in one write transaction that also serialises concurrent openers: ``BEGIN
IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on PostgreSQL. When the
database is already at ``HEAD_REVISION`` Alembic is not even imported.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from cmvrx.errors import StorageError

#: The newest migration in ``migrations/versions`` (a test checks they agree).
HEAD_REVISION = "0004"
MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x636D7678  # "cmvx": any constant shared by every cmvrx process


def upgrade(engine: Engine, *, where: str) -> None:
    """Apply pending migrations; ``where`` names the database in errors."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        if current_revision(connection) == HEAD_REVISION:
            return
        _alembic_upgrade(connection, where=where)


def current_revision(connection: Connection) -> str | None:
    """The schema revision recorded in the database (None for an empty database)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


def _alembic_upgrade(connection: Connection, *, where: str) -> None:
    try:
        from alembic import command
        from alembic.config import Config
        from alembic.util.exc import CommandError
    except ImportError as exc:
        raise StorageError("the course store needs Alembic: pip install 'cmvrx[course]'") from exc
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except CommandError as exc:
        raise StorageError(
            f"cannot migrate the course database {where}: {exc} (was it written by a newer cmvrx?)"
        ) from exc
