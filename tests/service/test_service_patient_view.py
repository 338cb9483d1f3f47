"""patient-view (issue 9): where a CMV antiviral course stands — cards from the audit's
patient-level review (``cmvrx.api.review_record``): re-dosing for today's kidneys (with an
update of the same active order), cytopenias, tests overdue, a record that cannot be
judged; nothing for a patient with nothing to say or on no CMV antiviral."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("fastapi", reason="optional component missing: fastapi ('service' extra)")

from cmvrx.service.cdshooks.models import CdsResponse, wire
from cmvrx.service.cdshooks.patient_view import patient_view_cards

# A man of 45, 70 kg, HIV with CMV retinitis, on IV ganciclovir 350 mg q12h (day 9), SCr
# 0.9 mg/dL (CrCl 102.6 mL/min), counts and viral load current: nothing to say.
BASE = yaml.safe_load((Path(__file__).parent / "data" / "patient-view-base.yaml").read_text())
AS_OF = datetime.fromisoformat(BASE["as_of"])
Edit = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _cards(edit: Edit = lambda r: r, *, opt_in: bool = True) -> list[Any]:
    record = edit(copy.deepcopy(BASE["resources"]))
    prefetch = {"record": {"resourceType": "Bundle", "entry": [{"resource": r} for r in record]}}
    cards = patient_view_cards(prefetch, as_of=AS_OF, no_dialysis_unless_recorded=opt_in)
    wire(CdsResponse(cards=cards))
    for card in cards:
        assert len(card.summary) < 140 and "not a prescriber" in (card.detail or "")
    return cards


def _value(rid: str, value: float) -> Edit:
    def edit(record: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for r in record:
            if r["id"] == rid:
                r["valueQuantity"]["value"] = value
        return record

    return edit


def _drop(*ids: str) -> Edit:
    return lambda record: [r for r in record if r["id"] not in ids]


def test_nothing_to_say_no_card() -> None:
    assert _cards() == []


def test_not_on_a_cmv_antiviral_no_card() -> None:
    assert _cards(_drop("gcv")) == []


def test_kidneys_worse_today_one_card_updating_the_same_active_order() -> None:
    # SCr 2.5 mg/dL: CrCl ≈ 37 mL/min → 2.5 mg/kg q24h (175 mg): dose and interval, one card
    (card,) = _cards(_value("scr", 2.5))
    assert card.indicator in ("warning", "critical")
    assert "re-dose" in card.summary
    (s,) = card.suggestions
    (action,) = s.actions
    assert action.type == "update" and action.resource["id"] == "gcv"
    assert action.resource["status"] == "active"
    dose = action.resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert dose["value"] == 175
    assert "ORD-DOSE-LOW" not in card.detail and "ORD-INTERVAL" in card.detail


def test_cytopenia_is_critical_and_suggests_no_dose() -> None:
    (card,) = _cards(_value("anc", 0.4))
    assert card.indicator == "critical" and not card.suggestions
    assert "ANC" in card.summary


def test_a_test_overdue() -> None:
    (card,) = _cards(_drop("pcr1"))  # last CMV PCR 9 days ago: weekly
    assert "overdue" in card.summary and "CMV" in card.detail


def test_a_record_that_cannot_be_judged_says_what_to_record() -> None:
    (card,) = _cards(opt_in=False)  # no dialysis status recorded
    assert card.indicator == "warning" and not card.suggestions
    assert "dialysis" in card.summary + card.detail


def test_missing_counts_ask_for_them_and_give_no_dose() -> None:
    cards = _cards(_drop("anc", "plt", "hb"))
    assert cards and all(not c.suggestions for c in cards)
    assert any("CBC" in c.summary for c in cards)


def _on_foscarnet(record: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """IV foscarnet 60 mg/kg q8h (4200 mg; CrCl 102.6 mL/min) in place of ganciclovir, with
    today's electrolytes low: K 2.9 mmol/L, Mg 1.0 mg/dL, phosphate 1.5 mg/dL."""
    out = [r for r in record if r["id"] != "gcv"]
    iv = {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]}
    timing = {"repeat": {"frequency": 1, "period": 8, "periodUnit": "h",
                         "duration": 120, "durationUnit": "min"}}  # fmt: skip
    out.append({"resourceType": "MedicationRequest", "id": "fos", "status": "active",
                "intent": "order", "subject": {"reference": "Patient/p1"},
                "authoredOn": "2026-03-02T08:00:00Z", "medicationCodeableConcept": {"text": "foscarnet"},
                "dosageInstruction": [{"timing": timing, "route": iv, "doseAndRate": [
                    {"doseQuantity": {"value": 4200, "code": "mg"}}]}]})  # fmt: skip
    for rid, code, value, unit in (("k", "6298-4", 2.9, "mmol/L"), ("mg", "19123-9", 1.0, "mg/dL"),
                                   ("po4", "2777-1", 1.5, "mg/dL")):  # fmt: skip
        out.append({"resourceType": "Observation", "id": rid, "status": "final",
                    "subject": {"reference": "Patient/p1"},
                    "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                    "effectiveDateTime": "2026-03-10T06:00:00Z",
                    "valueQuantity": {"value": value, "code": unit}})  # fmt: skip
    return out


def test_low_electrolytes_on_foscarnet() -> None:
    cards = _cards(_on_foscarnet)
    (card,) = [c for c in cards if "electrolytes" in c.summary]
    assert card.indicator in ("warning", "critical") and not card.suggestions
    assert "magnesium" in card.summary


def _not_responding(record: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ganciclovir since 2026-02-15 (day 23) and the viral load up from 100,000 to
    150,000 IU/mL: refractory disease, no genotype sent."""
    for r in record:
        if r["id"] == "gcv":
            r["authoredOn"] = "2026-02-15T08:00:00Z"
        if r["id"] == "pcr0":
            r["effectiveDateTime"] = "2026-02-15T06:00:00Z"
            r["valueQuantity"]["value"] = 100000
        if r["id"] == "pcr1":
            r["valueQuantity"]["value"] = 150000
    return record


def test_refractory_without_a_genotype() -> None:
    (card,) = _cards(_not_responding)
    assert "refractory" in card.summary and "UL97" in card.summary
    assert not card.suggestions


def test_a_review_that_fails_is_a_card_not_a_failed_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from cmvrx import api
    from cmvrx.errors import InputError

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise InputError("as_of must carry a time zone", field="as_of")

    monkeypatch.setattr(api, "review_record", refuse)
    (card,) = _cards()
    assert card.indicator == "warning" and not card.suggestions
