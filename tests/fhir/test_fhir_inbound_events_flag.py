"""``inbound.read(..., events=False)``: everything but the course events is what the full
mapping gives (order-sign uses it; the events are the costly part it does not need)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from cmvrx.fhir import inbound

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_without_events_the_rest_is_the_same(path: Path) -> None:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    as_of = data["as_of"]
    as_of = as_of if isinstance(as_of, datetime) else datetime.fromisoformat(as_of)
    source = data["resources"] if "resources" in data else data["prefetch"]
    full = inbound.read(source, as_of=as_of).to_dict()
    lean = inbound.read(source, as_of=as_of, events=False).to_dict()
    assert lean["events"] == []
    event_problems = [p for p in full["problems"] if p["message"].startswith("not a valid course")]
    full["problems"] = [p for p in full["problems"] if p not in event_problems]
    assert {**lean, "events": full["events"]} == full


def test_the_cases_above_do_have_events() -> None:
    data = yaml.safe_load(CASES[0].read_text(encoding="utf-8"))
    as_of = datetime.fromisoformat(str(data["as_of"]))
    assert inbound.read(data["resources"], as_of=as_of).events


def _source(path: Path) -> tuple[Any, datetime]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    as_of = datetime.fromisoformat(str(data["as_of"]))
    return (data["resources"] if "resources" in data else data["prefetch"]), as_of


def _lean_is_full(source: Any, as_of: datetime) -> inbound.InboundResult:
    full = inbound.read(source, as_of=as_of, no_dialysis_unless_recorded=True)
    lean = inbound.read(
        source, as_of=as_of, no_dialysis_unless_recorded=True, events=False, newest_only=True
    )
    assert lean.case == full.case
    assert lean.case_document == full.case_document
    assert (lean.orders, lean.active_orders, lean.drugs) == (
        full.orders,
        full.active_orders,
        full.drugs,
    )
    assert set(lean.problems) <= set(full.problems)
    return lean


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_newest_only_makes_the_same_case(path: Path) -> None:
    _lean_is_full(*_source(path))


def _creatinine(rid: str, at: str, value: float, unit: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0"}]},
            "effectiveDateTime": at, "valueQuantity": {"value": value, "code": unit}}  # fmt: skip


def test_newest_only_takes_the_newest_valid_value_as_the_full_mapping_does() -> None:
    source, as_of = _source(CASES[0])
    creatinine_codes = ("2160-0", "14682-9")
    others = [r for r in source if r.get("id") not in ("scr", "scr-old")]
    assert not [r for r in others if creatinine_codes[1] in str(r.get("code"))]
    day = as_of.date().isoformat()
    creatinines = [
        _creatinine("a-older-valid", f"{day}T01:00:00+00:00", 1.0, "mg/dL"),
        _creatinine("b-newest-bad-unit", f"{day}T05:00:00+00:00", 0.1, "mmol/L"),
        _creatinine("c-newest-valid", f"{day}T05:00:00+00:00", 1.2, "mg/dL"),
        _creatinine("d-same-time-later", f"{day}T05:00:00+00:00", 1.3, "mg/dL"),
        _creatinine("e-future", f"{day}T23:59:00+00:00", 1.5, "mg/dL"),
    ]
    lean = _lean_is_full([*others, *creatinines], as_of)
    assert lean.case is not None
    assert lean.case_document["renal"]["serum_creatinine"]["value"] == 1.2
    assert "Observation/c-newest-valid" not in {p.resource for p in lean.problems}


def test_newest_only_needs_events_off() -> None:
    source, as_of = _source(CASES[0])
    with pytest.raises(ValueError, match="events=False"):
        inbound.read(source, as_of=as_of, newest_only=True)
