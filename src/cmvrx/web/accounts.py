"""Local accounts of the web page: who may sign in, checked against the store."""

from __future__ import annotations

import re
from typing import Protocol

from cmvrx.errors import InputError
from cmvrx.web.passwords import hash_password, password_problem, verify_password

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
# A hash to verify against when the user does not exist: the answer takes as long as for
# a real user, so timing does not tell which names exist.
_DUMMY_HASH = hash_password("not a password of anyone here")


class UserStore(Protocol):
    def put_user(self, username: str, password_hash: str | None, *, source: str) -> bool: ...

    def get_user(self, username: str) -> object | None: ...


def check_username(username: str) -> str:
    """A user name of 1–100 letters, digits, '.', '_', '@', '-' (starting with a letter or
    digit), or an ``InputError`` naming ``username``."""
    if not _USERNAME.fullmatch(username):
        raise InputError(
            "1–100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
            field="username",
        )
    return username


def add_local_user(store: UserStore, username: str, password: str) -> bool:
    """Create or reset a local account; True when created, False when its password was
    replaced."""
    check_username(username)
    problem = password_problem(password)
    if problem:
        raise InputError(problem, field="password")
    return store.put_user(username, hash_password(password), source="local")


def check_local_sign_in(store: UserStore, username: str, password: str) -> bool:
    """Whether ``username`` is a local account whose password is ``password``."""
    user = store.get_user(username) if _USERNAME.fullmatch(username) else None
    stored = (
        getattr(user, "password_hash", None) if getattr(user, "source", "") == "local" else None
    )
    ok = verify_password(password, stored if stored is not None else _DUMMY_HASH)
    return ok and stored is not None
