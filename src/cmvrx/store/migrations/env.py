"""Alembic environment for the course store.

cmvrx runs the migrations itself when a store is opened (``cmvrx.store.migrate``),
passing its open connection in ``config.attributes["connection"]``. A developer may
also run Alembic by hand: ``alembic -c src/cmvrx/store/alembic.ini upgrade head``
(the URL from ``-x url=…``, ``$CMVRX_DB_URL`` or ``./cmvrx-courses.sqlite``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from cmvrx.store.url import resolve_url


def _run(connection: Connection) -> None:
    # Transactional DDL on SQLite too: the store opens its transactions with BEGIN
    # IMMEDIATE, so a migration either lands whole or not at all.
    context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    url = resolve_url(context.get_x_argument(as_dictionary=True).get("url"))
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


_main()
