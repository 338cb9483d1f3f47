"""The fast plan serialiser equals the former ``dataclasses.asdict`` one (plus each dose's
structured ``dosage``), on every plan vignette; the dosage agrees with the dose's fields."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

import cmvrx

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def _without(value: Any, keys: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


def _doses(d: dict[str, Any]) -> list[dict[str, Any]]:
    out = [*d["regimen"]["induction"], *d["maintenance"]["options"]]
    step = d["regimen"]["step_down"]
    if step and step["dose"]:
        out.append(step["dose"])
    return out


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_fast_serialiser_equals_asdict(path: Path) -> None:
    v = yaml.safe_load(path.read_text())
    if "error" in v["expect"]:
        return
    as_of = datetime.fromisoformat(v["as_of"].replace("Z", "+00:00"))
    plan = cmvrx.plan(v["case"], as_of=as_of)
    new, old = plan.to_dict(), plan.to_dict_via_asdict()
    assert _without(new, {"dosage"}) == _without(old, {"administration"})
    for dose in _doses(new):
        dosage = dose["dosage"]
        if dose["status"] != "dose":
            assert dosage is None
            continue
        assert dosage["drug"] == dose["drug"] and dosage["phase"] == dose["phase"]
        assert dosage["amount_mg"] == pytest.approx(dose["practical_mg"] or dose["dose_mg"])
        assert dosage["amount_mg_per_kg"] == dose["dose_per_kg"]
        assert dosage["interval"] == dose["interval"]
        assert (dosage["interval_hours"] is None) != (dosage["schedule"] is None)
        if dose["drug"] == "foscarnet":
            assert dosage["hydration"], "foscarnet has label hydration"
            assert {ln["line"] for ln in dosage["infusion"]["lines"]} == {"central", "peripheral"}
