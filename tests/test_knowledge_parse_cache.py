"""The parse cache of the knowledge files (knowledge/parse_cache.py, hazard H117): a hit
gives exactly what the TOML parser gives, any changed byte is a miss, and a missing,
corrupt, foreign, unwritable or disabled cache falls back to parsing, silently."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from cmvrx.errors import KnowledgeError
from cmvrx.knowledge import loader, parse_cache

FACTOR = "cockcroft_gault_female_factor"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty, private cache directory, cache enabled."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(parse_cache.DIR_ENV, str(folder))
    monkeypatch.delenv(parse_cache.DISABLE_ENV, raising=False)
    return folder


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str, raw: bytes) -> None:
        raise AssertionError(f"{name}.toml parsed although the cache holds it")

    monkeypatch.setattr(loader, "_parse", refuse)


def _raw(data_dir: Path | None = None) -> dict[str, bytes]:
    return loader._read_all(data_dir)


def test_a_hit_gives_exactly_what_the_parser_gives_for_every_file(cache):
    raw = _raw()
    parsed = {name: tomllib.loads(content.decode()) for name, content in raw.items()}
    assert parse_cache.read(raw) is None
    parse_cache.write(raw, parsed)
    assert (cache / parse_cache.ENTRY).is_file()
    hit = parse_cache.read(raw)
    assert hit is not None and repr(hit) == repr(parsed)  # types, order, inf: all the same


def test_the_second_load_parses_nothing_and_validates_the_same_knowledge(cache, monkeypatch):
    first = loader.load()
    _no_parsing(monkeypatch)
    second = loader.load()
    assert second == first and second is not first
    assert second.content_hash == first.content_hash


def test_validation_still_runs_on_a_hit(cache, monkeypatch):
    loader.load()
    _no_parsing(monkeypatch)
    checked: list[str] = []
    original = loader._check

    def spy(k: object) -> None:
        checked.append("checked")
        original(k)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "_check", spy)
    loader.load()
    assert checked == ["checked"]


def test_an_edited_file_is_never_served_from_the_cache(cache, data_copy):
    assert loader.load(data_dir=data_copy).numbers[FACTOR] == 0.85
    target = data_copy / "parameters.toml"
    before = target.stat()
    text = target.read_text(encoding="utf-8")
    assert text.count("value = 0.85\n") == 1
    target.write_text(text.replace("value = 0.85\n", "value = 0.86\n"), encoding="utf-8")
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size, same time
    edited = loader.load(data_dir=data_copy)
    assert edited.numbers[FACTOR] == 0.86
    assert loader.load(data_dir=data_copy).numbers[FACTOR] == 0.86  # and the next load


def test_an_edit_that_breaks_the_knowledge_is_refused_despite_a_warm_cache(cache, data_copy):
    loader.load(data_dir=data_copy)
    target = data_copy / "parameters.toml"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace('grade = "A"', 'grade = "Z"', 1), encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"parameters\.toml"):
        loader.load(data_dir=data_copy)


def test_files_that_make_no_valid_knowledge_are_not_stored(cache, data_copy):
    target = data_copy / "parameters.toml"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace('grade = "A"', 'grade = "Z"', 1), encoding="utf-8")
    with pytest.raises(KnowledgeError):
        loader.load(data_dir=data_copy)
    assert not (cache / parse_cache.ENTRY).exists()


def test_the_entry_holds_what_the_parser_gave_even_if_the_loader_changed_it(cache, monkeypatch):
    validate = loader._validate

    def meddling(name: str, model: type, data: dict[str, object]) -> object:
        result = validate(name, model, data)  # type: ignore[type-var]
        if name == "alerts":
            data["meddled"] = True  # the parsed dict changed after validation
        return result

    monkeypatch.setattr(loader, "_validate", meddling)
    loader.load()
    monkeypatch.setattr(loader, "_validate", validate)
    hit = parse_cache.read(_raw())
    assert hit is not None and "meddled" not in hit["alerts"]


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"null", b"[]", b'{"format": 1}', b"\xff\xfe", b'{"format": 1, "key": 3}'],
)
def test_a_corrupt_entry_is_ignored_and_replaced(cache, content):
    expected = loader.load(data_dir=None)
    (cache / parse_cache.ENTRY).write_bytes(content)
    assert parse_cache.read(_raw()) is None
    assert loader.load() == expected
    assert parse_cache.read(_raw()) is not None  # rewritten by that load


def _entry(cache: Path) -> dict[str, object]:
    loader.load()
    result: dict[str, object] = json.loads((cache / parse_cache.ENTRY).read_bytes())
    return result


def test_an_entry_for_other_bytes_is_ignored(cache, data_copy):
    entry = _entry(cache)
    (data_copy / "manifest.toml").write_bytes(
        (data_copy / "manifest.toml").read_bytes() + b"\n# edited\n"
    )
    assert parse_cache.read(_raw(data_copy)) is None
    entry["format"] = parse_cache.FORMAT + 1
    (cache / parse_cache.ENTRY).write_text(json.dumps(entry))
    assert parse_cache.read(_raw()) is None


@pytest.mark.parametrize(
    "patches",
    [
        [[["parameters", "parameter"], "float", "inf"]],  # replaces no placeholder
        [[[], "float", "inf"]],
        [[["parameters", "nowhere", "x"], "float", "inf"]],
        [[["parameters", "schwartz_k", 0, "upper"], "pickle", "x"]],
        [["not a patch"]],
    ],
)
def test_a_malformed_patch_makes_the_entry_a_miss(cache, patches):
    entry = _entry(cache)
    entry["patches"] = patches
    (cache / parse_cache.ENTRY).write_text(json.dumps(entry))
    assert parse_cache.read(_raw()) is None


def test_an_entry_or_directory_writable_by_others_is_not_trusted(cache):
    _entry(cache)
    assert parse_cache.read(_raw()) is not None
    (cache / parse_cache.ENTRY).chmod(0o666)
    assert parse_cache.read(_raw()) is None
    (cache / parse_cache.ENTRY).chmod(0o600)
    cache.chmod(0o777)
    assert parse_cache.read(_raw()) is None
    loader.load()  # and nothing is written into it
    assert (cache / parse_cache.ENTRY).stat().st_mode & 0o777 == 0o600


def test_an_unwritable_cache_is_no_cache(cache, monkeypatch, tmp_path):
    expected = loader.load()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    monkeypatch.setenv(parse_cache.DIR_ENV, str(blocked / "cmvrx"))
    assert loader.load() == expected

    def read_only(*args: object, **kwargs: object) -> int:
        raise PermissionError("read-only file system")

    monkeypatch.setenv(parse_cache.DIR_ENV, str(tmp_path / "other"))
    monkeypatch.setattr(parse_cache.os, "open", read_only)
    assert loader.load() == expected
    assert not list((tmp_path / "other").glob("*"))  # no partial entry left behind


@pytest.mark.parametrize("value", ["1", "yes", "true"])
def test_the_cache_can_be_turned_off(cache, monkeypatch, value):
    monkeypatch.setenv(parse_cache.DISABLE_ENV, value)
    loader.load()
    assert not cache.exists()
    monkeypatch.setenv(parse_cache.DISABLE_ENV, "0")
    loader.load()
    entry = cache / parse_cache.ENTRY
    assert entry.is_file()
    monkeypatch.setenv(parse_cache.DISABLE_ENV, "1")
    assert parse_cache.read(_raw()) is None  # a valid entry is not even read


def test_the_default_place_is_the_user_cache_directory(monkeypatch, tmp_path):
    monkeypatch.delenv(parse_cache.DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert parse_cache.directory() == tmp_path / "xdg" / "cmvrx"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert parse_cache.directory() == tmp_path / "home" / ".cache" / "cmvrx"


TOML_EDGE_CASES = """
odt1 = 1979-05-27T07:32:00Z
odt2 = 1979-05-27T00:32:00-07:00
odt3 = 1979-05-27T00:32:00.999999+05:30
odt4 = 1979-05-27T00:32:00.1234567+00:00
ldt = 1979-05-27T07:32:00.5
ld = 1979-05-27
lt = 07:32:00.25
lt0 = 00:00:00
floats = [inf, -inf, nan, -0.0, 0.0, 1e300, 5e-324, 0.1, 1.0, 3.0e-7]
ints = [0, -1, 9223372036854775807, -9223372036854775808]
mixed = [1, 1.0, true, "1", 1979-05-27]
text = "µ ≥ – \\u0000 \\" \\\\ 😀"
"key with \\u0000 null" = 1
nested = [{ when = 1979-05-27, what = [nan, { deep = 07:00:00 }] }]
"""


def test_every_toml_value_round_trips_exactly(cache):
    raw = {"edge": TOML_EDGE_CASES.encode()}
    parsed = {"edge": tomllib.loads(TOML_EDGE_CASES)}
    parse_cache.write(raw, parsed)
    hit = parse_cache.read(raw)
    assert hit is not None and repr(hit) == repr(parsed)
    edge = hit["edge"]
    assert edge["odt2"].utcoffset() == parsed["edge"]["odt2"].utcoffset()
    assert [type(v) for v in edge["mixed"]] == [int, float, bool, str, type(edge["ld"])]
