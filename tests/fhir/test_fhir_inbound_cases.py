"""Hand-built FHIR inputs (tests/fhir/cases/*.yaml) through the inbound mapping.

Each file gives ``resources`` (or a ``bundle``/``prefetch``), ``as_of``, ``options`` and
what to ``expect``: case fields by dotted path, the exact ``problems`` (kind, resource,
field), orders, matches and events that must be present.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from cmvrx import api
from cmvrx.fhir import inbound
from cmvrx.fhir.problems import PROBLEM_KINDS

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def _get(doc: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        doc = doc[part]
    return doc


def _subset(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    return all(actual.get(k) == v for k, v in expected.items())


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    spec = yaml.safe_load(path.read_text())
    source = spec.get("resources", spec.get("bundle", spec.get("prefetch")))
    result = inbound.read(
        source, as_of=datetime.fromisoformat(spec["as_of"]), **spec.get("options", {})
    )
    out = result.to_dict()
    expect = spec["expect"]
    if expect.get("case") is None and "case" in expect:
        assert result.case is None
    for dotted, value in (expect.get("case") or {}).items():
        assert result.case is not None, out["problems"]
        assert _get(out["case"], dotted) == value, dotted
    for dotted, value in (expect.get("case_document") or {}).items():
        assert _get(out["case_document"], dotted) == value, dotted
    if "problems" in expect:
        got = sorted((p["kind"], p["resource"], p["field"]) for p in out["problems"])
        want = sorted(
            (p["kind"], p.get("resource", ""), p.get("field", "")) for p in expect["problems"]
        )
        assert got == want, out["problems"]
    for p in out["problems"]:
        assert p["kind"] in PROBLEM_KINDS
        assert p["message"]
    if "orders" in expect:
        assert out["orders"] == expect["orders"]
    if "active_orders" in expect:
        assert out["active_orders"] == expect["active_orders"]
    for m in expect.get("matched", []):
        assert m in out["matched"], out["matched"]
    for e in expect.get("events", []):
        assert any(_subset(e, got) for got in out["events"]), (e, out["events"])
    if "skipped" in expect:
        assert out["skipped"] == expect["skipped"]
    if result.case is not None:  # a mapped case plans, and its events make a course
        as_of = datetime.fromisoformat(spec["as_of"])
        assert api.plan(result.case, as_of=as_of).case_id == result.case.case_id
        course = api.load_course(
            {"course_id": "c", "baseline": out["case"], "events": out["events"]}
        )
        api.assess_course(course, as_of=as_of)
