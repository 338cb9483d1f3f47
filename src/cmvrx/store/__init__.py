"""Persistence of treatment courses: the ``CourseStore`` port and how to open one.

``open_store(url)`` gives the SQLAlchemy implementation for a SQLite file (the embedded
default, no server) or a PostgreSQL server (``postgresql+psycopg://…``). Importing this
package does not import SQLAlchemy; ``open_store`` does, and names the extra to install
when it is missing. See ``docs/course-storage.md``.
"""

from __future__ import annotations

from cmvrx.store.port import (
    CourseStore,
    CourseSummary,
    EventInput,
    FeedbackRecord,
    ServiceStore,
    StoredAssessment,
)
from cmvrx.store.url import DEFAULT_SQLITE_FILE, ENV_DB_URL, describe_url, resolve_url

__all__ = [
    "DEFAULT_SQLITE_FILE",
    "ENV_DB_URL",
    "CourseStore",
    "CourseSummary",
    "EventInput",
    "FeedbackRecord",
    "ServiceStore",
    "StoredAssessment",
    "describe_url",
    "open_service_store",
    "open_store",
    "resolve_url",
]


def open_store(url: str | None = None, *, read_only: bool = False) -> CourseStore:
    """Open (and migrate to the current schema) the course database at ``url``.

    ``url`` is a plain file path (a SQLite file: the recommended form) or a SQLAlchemy URL
    (``sqlite:///relative``, ``sqlite:////absolute``, ``postgresql+psycopg://…``); ``None``
    means ``$CMVRX_DB_URL`` or ``./cmvrx-courses.sqlite``. A SQLite file that cannot be
    written is opened read-only (``store.read_only``); ``read_only=True`` asks for that.
    """
    from cmvrx.store.sql import SqlCourseStore

    return SqlCourseStore.open(resolve_url(url), read_only=read_only)


def open_service_store(url: str | None = None) -> ServiceStore:
    """The same database as ``open_store``, seen as the service's store (replay cache,
    feedback); the object is a full ``CourseStore`` too."""
    from cmvrx.store.sql import SqlCourseStore

    return SqlCourseStore.open(resolve_url(url))
