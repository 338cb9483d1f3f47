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
