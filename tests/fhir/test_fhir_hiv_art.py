""" "On ART" from FHIR: only an active antiretroviral of a patient with HIV; a stopped one,
none, or one taken without HIV recorded (pre-exposure prophylaxis) leaves it unknown —
never "false", never guessed (the HIV maintenance-stop rule needs it true)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from cmvrx.fhir import inbound

CASE = Path(__file__).parent / "cases" / "09_hiv_rna_suppression.yaml"


def _read(keep: Any) -> Any:
    spec = yaml.safe_load(CASE.read_text(encoding="utf-8"))
    resources = [r for r in spec["resources"] if keep(r)]
    result = inbound.read(
        resources, as_of=datetime.fromisoformat(spec["as_of"]), no_dialysis_unless_recorded=True
    )
    assert result.case is not None, result.to_dict()["problems"]
    return result.case


def test_an_active_antiretroviral_records_on_art() -> None:
    case = _read(lambda _: True)
    assert case.hiv is not None and case.hiv.on_art is True


def test_a_stopped_one_alone_leaves_it_unknown() -> None:
    case = _read(lambda r: r["id"] != "art")
    assert case.hiv is not None and case.hiv.on_art is None


def test_without_hiv_recorded_an_antiretroviral_says_nothing() -> None:
    case = _read(lambda r: r["id"] != "hiv")
    assert case.hiv is None or case.hiv.on_art is None
