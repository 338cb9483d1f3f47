"""The one reader of YAML/JSON documents (cases, courses, events): bounded and strict.

Every document cmvrx reads from a file, stdin or text passes through here, and is
refused — with the limit named — when it is:

- larger than ``MAX_BYTES`` (read at most that many bytes: ``/dev/zero`` cannot hang);
- not a regular file (a FIFO or device could block for ever);
- not UTF-8 text (binary, NUL bytes, UTF-16/UTF-32);
- nested deeper than ``MAX_DEPTH`` or made of more than ``MAX_NODES`` values;
- using YAML anchors/aliases or merge keys (``<<``), which can multiply a small file;
- holding a key twice in one mapping (a second ``weight:`` must not silently win).

YAML scalars are resolved as in YAML 1.2's core schema, not 1.1: ``1:04`` is the text
"1:04" (not 64), ``010`` is 10 (not 8), ``yes``/``no`` are text; only ``true``/``false``
are booleans. The numbers are then refused or accepted by the models' strict types.
These are technical limits, not clinical numbers.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Hashable
from pathlib import Path
from typing import IO, Any

from cmvrx.errors import InputError

#: Largest document read (bytes). A case is ~2 kB; a 1,000-event course ~200 kB.
MAX_BYTES = 256_000
#: Deepest nesting of mappings/lists (a case nests 4 levels, a course 7).
MAX_DEPTH = 20
#: Most values (scalars, mappings, lists) in one document.
MAX_NODES = 30_000

_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)


class DocumentLimitError(InputError):
    """A document broke one of the reader's limits (size, depth, encoding, duplicates)."""


# --------------------------------------------------------------------------- bytes


def read_file(path: str | Path, *, what: str = "document") -> str:
    """The text of a regular file of at most ``MAX_BYTES``, decoded as UTF-8.

    Opened non-blocking and checked with ``fstat`` before reading: a FIFO or a device
    is refused at once instead of blocking or streaming for ever."""
    import os

    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"cannot read the {what} file: {exc.strerror}", field=name) from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DocumentLimitError(
                f"the {what} is not a regular file (a device, pipe or folder)", field=name
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the {what} file: {exc.strerror}", field=name) from exc
    finally:
        os.close(fd)
    return decode(data, name=name)


def read_stream(stream: IO[bytes], *, name: str = "stdin") -> str:
    """At most ``MAX_BYTES`` from a byte stream (stdin), decoded as UTF-8."""
    return decode(stream.read(MAX_BYTES + 1), name=name)


def decode(data: bytes, *, name: str) -> str:
    """UTF-8 text from ``data``, or which check it failed."""
    if len(data) > MAX_BYTES:
        raise DocumentLimitError(
            f"larger than the reader's size limit ({MAX_BYTES:,} bytes)", field=name
        )
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            raise DocumentLimitError(
                f"{encoding} text is not accepted (encoding check): save the file as UTF-8",
                field=name,
            )
    if b"\x00" in data:
        raise DocumentLimitError(
            "binary data or UTF-16 (NUL bytes; encoding check): a case is UTF-8 text",
            field=name,
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentLimitError(
            f"not UTF-8 text (encoding check; invalid byte at offset {exc.start})", field=name
        ) from None


def check_text_size(text: str, *, name: str) -> str:
    """``text`` if its UTF-8 form fits the size limit (text given directly, not a file)."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise DocumentLimitError(
            f"larger than the reader's size limit ({MAX_BYTES:,} bytes)", field=name
        )
    return text


# --------------------------------------------------------------------------- parse


def parse(text: str, *, name: str, json_first: bool | None = None) -> object:
    """The document in ``text``: JSON (strict) when it is JSON, else YAML (core schema).

    ``json_first=None`` decides from the text: ``{``/``[`` tries JSON, then YAML flow
    style (``{kind: note, …}`` is YAML, not JSON).
    """
    check_text_size(text, name=name)
    if json_first is None:
        json_first = text.lstrip().startswith(("{", "["))
    if json_first:
        try:
            return parse_json(text, name=name)
        except _NotJsonError:
            pass  # YAML flow style, or not JSON at all: YAML says what is wrong
    return parse_yaml(text, name=name)


class _NotJsonError(Exception):
    """The text is not JSON at all (its syntax), as opposed to breaking a limit."""


def parse_json(text: str, *, name: str) -> object:
    """Strict JSON: no duplicate keys, no NaN/Infinity, bounded depth."""
    try:
        value = json.loads(
            text, object_pairs_hook=_json_object(name), parse_constant=_no_constant(name)
        )
    except json.JSONDecodeError as exc:
        raise _NotJsonError(str(exc)) from exc
    except RecursionError:
        raise _depth_error(name) from None
    _check_depth(value, name)
    return value


def _json_object(name: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise DocumentLimitError(f"duplicate key {key!r} in one object", field=name)
            out[key] = value
        return out

    return hook


def _no_constant(name: str) -> Any:
    def refuse(constant: str) -> float:
        raise DocumentLimitError(f"{constant} is not a number", field=name)

    return refuse


def _check_depth(value: object, name: str) -> None:
    """Iteratively: ``value`` nests at most ``MAX_DEPTH`` levels and ``MAX_NODES`` values."""
    stack: list[tuple[object, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _nodes_error(name)
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise _depth_error(name)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _depth_error(name: str) -> DocumentLimitError:
    return DocumentLimitError(
        f"nested deeper than the reader's depth limit ({MAX_DEPTH})", field=name
    )


def _nodes_error(name: str) -> DocumentLimitError:
    return DocumentLimitError(f"more values than the reader's limit ({MAX_NODES:,})", field=name)


def parse_yaml(text: str, *, name: str) -> object:
    """YAML with the limits above; a syntax error names the line."""
    import yaml

    loader: Any = None
    try:
        loader = _loader_class()(text)  # the reader checks the characters here already
        loader.document_name = name
        return loader.get_single_data()
    except DocumentLimitError:
        raise
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML/JSON: {' '.join(str(exc).split())}", field=name) from exc
    except RecursionError:  # pragma: no cover - the depth limit stops it first
        raise _depth_error(name) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. !!int "x", 2026-13-45
        raise InputError(f"not valid YAML: {' '.join(str(exc).split())}", field=name) from exc
    finally:
        if loader is not None:
            loader.dispose()


_LOADER: Any = None

_CORE_INT = re.compile(r"^[-+]?[0-9]+$")
_CORE_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_CORE_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


def _loader_class() -> Any:
    """A SafeLoader with the YAML 1.2 core scalars, duplicate-key, depth and alias checks
    (built on first use: ``import cmvrx`` does not import yaml)."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    class Loader(yaml.SafeLoader):
        document_name = "document"

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._depth = 0
            self._nodes = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise DocumentLimitError(
                    "YAML aliases (*name) are not accepted: write the value out",
                    field=self.document_name,
                )
            event = self.peek_event()  # type: ignore[no-untyped-call]
            if getattr(event, "anchor", None) is not None:
                raise DocumentLimitError(
                    "YAML anchors (&name) are not accepted: write the value out",
                    field=self.document_name,
                )
            self._nodes += 1
            if self._nodes > MAX_NODES:
                raise _nodes_error(self.document_name)
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    raise _depth_error(self.document_name)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Hashable] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise DocumentLimitError(
                        "YAML merge keys (<<) are not accepted", field=self.document_name
                    )
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, Hashable):
                    if key in seen:
                        raise DocumentLimitError(
                            f"duplicate key {key!r} (line {key_node.start_mark.line + 1})",
                            field=self.document_name,
                        )
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_int(self, node: Any) -> int:
            return int(self.construct_scalar(node))

        def construct_yaml_float(self, node: Any) -> float:
            text = str(self.construct_scalar(node)).lower()
            return float(text.replace(".inf", "inf").replace(".nan", "nan"))

        def construct_yaml_bool(self, node: Any) -> bool:
            return str(self.construct_scalar(node)).lower() == "true"

    core = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"}
    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in core]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _CORE_BOOL, list("tTfF"))
    Loader.add_implicit_resolver("tag:yaml.org,2002:int", _CORE_INT, list("-+0123456789"))
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _CORE_FLOAT, list("-+.0123456789"))
    Loader.add_constructor("tag:yaml.org,2002:int", Loader.construct_yaml_int)
    Loader.add_constructor("tag:yaml.org,2002:float", Loader.construct_yaml_float)
    Loader.add_constructor("tag:yaml.org,2002:bool", Loader.construct_yaml_bool)
    _LOADER = Loader
    return Loader
