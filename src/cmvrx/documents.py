"""The one document reader and the one validation-error translator of cmvrx.

Every interface reads YAML/JSON documents (cases, courses, events, orders) through
``read_document`` / ``parse_document`` (which use the bounded reader ``cmvrx.reader``) and turns a pydantic ``ValidationError`` into an
``InputError`` naming the field through ``input_error``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmvrx.errors import InputError

if TYPE_CHECKING:
    from pydantic import ValidationError


def parse_document(text: str, *, name: str) -> Any:
    """YAML or JSON, through the one bounded reader (``cmvrx.reader``: size, depth,
    encoding, duplicate keys)."""
    from cmvrx.reader import parse

    return parse(text, name=name)


def read_document(source: Mapping[str, Any] | list[Any] | str | Path, what: str) -> object:
    """The parsed document behind a mapping, a file path (``.yaml``/``.yml``/``.json``),
    or YAML/JSON text — through the one bounded reader (``cmvrx.reader``)."""
    from cmvrx import reader

    if isinstance(source, Path) or (
        isinstance(source, str)
        and "\n" not in source
        and source.endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(source)
        text = reader.read_file(path, what=what)
        return reader.parse(text, name=str(path), json_first=path.suffix == ".json" or None)
    if isinstance(source, str):
        return reader.parse(source, name=what)
    return source


def input_error(
    exc: ValidationError,
    prefix: str = "",
    *,
    tag: object = None,
    kinds: Sequence[str] = (),
    drop_last: str | None = None,
) -> InputError:
    """The first problem of ``exc`` as an ``InputError`` whose field is the dotted path
    (under ``prefix``); for a tagged union (events), a missing or unknown ``kind`` names
    the ``kinds`` allowed and the tag pydantic puts first is dropped; a last path part
    equal to ``drop_last`` is dropped too."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    message = first["msg"]
    if kinds and first["type"] == "union_tag_not_found":
        loc, message = ["kind"], f"missing; one of: {', '.join(kinds)}"
    elif kinds and first["type"] == "union_tag_invalid":
        loc, message = ["kind"], f"unknown kind {tag!r}; one of: {', '.join(kinds)}"
    elif loc and tag is not None and loc[0] == str(tag):
        loc = loc[1:]  # pydantic puts the discriminator value first; the user never wrote it
    if drop_last is not None and loc[-1:] == [drop_last]:
        loc = loc[:-1]
    where = ".".join(part for part in (prefix, *loc) if part) or None
    more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
    return InputError(f"{message}{more}", field=where)
