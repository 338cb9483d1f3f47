"""The fast plan JSON (``Plan.to_dict()`` by generated per-class serialisers, and
``Plan.to_json()`` bytes through orjson or json) equals the former type-dispatch
serialiser's output on every plan vignette — with orjson and without it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml

import cmvrx
from cmvrx.model import plan_json

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
PLANS = [p for p in CASES if "error" not in yaml.safe_load(p.read_text())["expect"]]


def _plan(path: Path) -> cmvrx.Plan:
    v = yaml.safe_load(path.read_text())
    as_of = datetime.fromisoformat(v["as_of"].replace("Z", "+00:00"))
    return cmvrx.plan(v["case"], as_of=as_of)


@pytest.mark.parametrize("path", PLANS, ids=[p.stem for p in PLANS])
def test_fast_json_equals_the_former_serialiser(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(path)
    reference = plan.to_dict_generic()
    assert plan.to_dict() == reference
    # the same JSON text, key order included, and the same value through the bytes
    assert json.dumps(plan.to_dict()) == json.dumps(reference)
    assert json.loads(plan.to_json()) == json.loads(json.dumps(reference))
    monkeypatch.setattr(plan_json, "_orjson", None)  # the fallback without the fast extra
    assert json.loads(plan.to_json()) == json.loads(json.dumps(reference))


def test_the_vignettes_are_many() -> None:
    assert len(PLANS) >= 40


def test_orjson_is_installed_with_the_dev_extras() -> None:
    # CI installs '.[dev]' (which holds the fast extra): the orjson path is the one tested
    assert plan_json._orjson is not None, "orjson (the 'fast' extra) is not installed"


def test_every_field_has_a_direct_serialiser() -> None:
    """Only the free-form fields (patient summary, an aware datetime or None) go through
    the generic path; a new field of a known type is copied directly."""
    generic = {
        f"{cls.__name__}.{name}"
        for cls in plan_json._CLASSES
        for name, annotation in plan_json._annotations(cls)
        if plan_json._expression(name, annotation).startswith("_value(")
    }
    assert generic == {"Plan.patient", "RenalFunction.creatinine_measured_at"}
