"""order-select (issue 9): guidance as soon as a CMV antiviral is picked — the plan for
this patient (regimen, today's dose, what to monitor) as an info card; a drug refused for
this patient as a warning; insufficient data → what to measure, never a dose; nothing for
a selection that is not a CMV antiviral."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("fastapi", reason="optional component missing: fastapi ('service' extra)")

from svc_support import fhir_case

from cmvrx.service.cdshooks.models import CdsResponse, wire
from cmvrx.service.cdshooks.order_select import order_select_cards

RECORD, NOW = fhir_case("01_complete_retinitis_hiv.yaml")
REST = [r for r in RECORD if r["resourceType"] != "MedicationRequest"]


def _draft(rid: str, text: str) -> dict[str, Any]:
    # picked, not yet complete: no dose, no timing, no route
    return {"resourceType": "MedicationRequest", "id": rid, "status": "draft",
            "intent": "proposal", "medicationCodeableConcept": {"text": text}}  # fmt: skip


def _cards(
    *picked: tuple[str, str],
    selected: list[str] | None = None,
    record: list[dict[str, Any]] = REST,
    opt_in: bool = True,
) -> list[Any]:
    drafts = {"resourceType": "Bundle", "entry": [{"resource": _draft(*p)} for p in picked]}
    prefetch = {"record": {"resourceType": "Bundle", "entry": [{"resource": r} for r in record]}}
    chosen = selected if selected is not None else [f"MedicationRequest/{p[0]}" for p in picked]
    cards = order_select_cards(
        prefetch, drafts, chosen, as_of=NOW, no_dialysis_unless_recorded=opt_in
    )
    wire(CdsResponse(cards=cards))
    return cards


def test_ganciclovir_picked_gives_the_plan_for_this_patient() -> None:
    (card,) = _cards(("a", "ganciclovir"))
    assert card.indicator == "info"
    assert not card.suggestions  # guidance, not a change to the order
    # 70 kg, CrCl ≈ 83 mL/min: 5 mg/kg q12h = 350 mg
    assert "350 mg" in card.summary and "q12h" in card.summary and len(card.summary) < 140
    for part in ("REG-NONCNS-GANCICLOVIR", "ganciclovir.induction", "**Monitor:**",
                 "MON-CMV-PCR-WEEKLY", "CrCl", "Knowledge 2026.12.1", "not a prescriber"):  # fmt: skip
        assert part in card.detail, part


def test_foscarnet_guidance_carries_its_hydration_and_rate() -> None:
    (card,) = _cards(("f", "foscarnet"))
    assert card.indicator == "info"
    assert "foscarnet" in card.summary and "mg/kg/min" in card.detail


def test_a_drug_refused_for_this_patient_is_a_warning_with_the_alternative() -> None:
    (card,) = _cards(("l", "letermovir"))
    assert card.indicator == "warning"
    assert "REF-LETERMOVIR-TREATMENT" in card.detail and "Instead" in card.detail


def test_insufficient_data_says_what_to_measure_and_gives_no_dose() -> None:
    record = [r for r in REST if r["id"] not in ("anc", "plt", "hb")]
    (card,) = _cards(("a", "ganciclovir"), record=record)
    assert "insufficient data" in card.summary and "CBC" in card.summary
    assert "350" not in card.detail


def test_a_record_that_makes_no_case_asks_for_what_is_missing() -> None:
    (card,) = _cards(("a", "ganciclovir"), opt_in=False)  # no dialysis status recorded
    assert card.indicator == "info"
    assert "dialysis" in card.detail and "No dose" in card.detail
    assert "order_incomplete" not in card.detail  # the draft being written is not the problem


def test_nothing_for_other_drugs_or_unselected_drafts() -> None:
    assert _cards(("x", "amoxicillin 500 mg")) == []
    assert (
        _cards(("a", "ganciclovir"), ("x", "amoxicillin"), selected=["MedicationRequest/x"]) == []
    )


def test_two_antivirals_picked_give_one_card_each() -> None:
    cards = _cards(("a", "ganciclovir"), ("v", "valganciclovir"))
    assert [c.indicator for c in cards] == ["info", "info"]
    assert "valganciclovir" in cards[1].summary
