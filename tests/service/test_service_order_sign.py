"""order-sign cards from the one order check (issue 9): the prefetch and the draft orders go
through the FHIR mapping layer and ``cmvrx.check_order``; a wrong dose is a warning whose
suggestion updates that exact draft; a drug not to be used is critical; an incomplete
record is a card saying what to record — never a dose; a right order draws no card."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("fastapi", reason="optional component missing: fastapi ('service' extra)")

from cmvrx.service.cdshooks.models import CdsResponse, wire
from cmvrx.service.cdshooks.order_sign import order_sign_cards

CASE = yaml.safe_load(
    (Path(__file__).parents[1] / "fhir" / "cases" / "01_complete_retinitis_hiv.yaml").read_text(
        "utf-8"
    )
)
AS_OF = datetime.fromisoformat(CASE["as_of"])
#: the record without its draft order (no dialysis recorded; the drafts are given per test)
RECORD = [r for r in CASE["resources"] if r["resourceType"] != "MedicationRequest"]


def _draft(drug: str, dose: dict[str, Any], hours: int = 12, route: str = "iv") -> dict[str, Any]:
    # IV by its SNOMED code; oral by text (its SNOMED code is UNCONFIRMED in the bindings)
    coded = {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]}
    route_concept = coded if route == "iv" else {"text": route}
    return {
        "resourceType": "MedicationRequest",
        "id": f"draft-{drug}",
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": {"text": drug},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 1, "period": hours, "periodUnit": "h"}},
                "route": route_concept,
                "doseAndRate": [{"doseQuantity": dose}],
            }
        ],
    }


def _cards(*drafts: dict[str, Any], record: list[dict[str, Any]] | None = None) -> list[Any]:
    entries = [{"resource": r} for r in (RECORD if record is None else record)]
    prefetch = {"record": {"resourceType": "Bundle", "entry": entries}}
    bundle = {"resourceType": "Bundle", "entry": [{"resource": d} for d in drafts]}
    # the deployment accepts "no dialysis unless recorded" (docs/fhir.md); none is recorded
    cards = order_sign_cards(prefetch, bundle, as_of=AS_OF, no_dialysis_unless_recorded=True)
    wire(CdsResponse(cards=cards))  # valid on the wire: no null or empty values
    return cards


def test_a_right_order_draws_no_card() -> None:
    # 45 y, 70 kg, SCr 97 µmol/L (1.10 mg/dL): CG = 95 × 70 / (72 × 1.10) = 84 mL/min → 5 mg/kg q12h
    assert _cards(_draft("ganciclovir", {"value": 350, "code": "mg"})) == []


def test_a_wrong_dose_is_a_warning_that_updates_the_same_draft() -> None:
    (card,) = _cards(_draft("ganciclovir", {"value": 500, "code": "mg"}))
    assert card.indicator == "warning"
    assert len(card.summary) < 140
    (s,) = card.suggestions
    (action,) = s.actions
    assert action.type == "update"
    assert action.resource["id"] == "draft-ganciclovir"
    dose = action.resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert (dose["value"], dose["code"]) == (350, "mg")
    assert card.selectionBehavior == "at-most-one"
    assert "not a prescriber" in card.detail


def test_letermovir_for_treatment_is_critical_with_no_dose() -> None:
    (card,) = _cards(_draft("letermovir", {"value": 480, "code": "mg"}, hours=24, route="oral"))
    assert card.indicator == "critical"
    assert not card.suggestions


def test_an_incomplete_record_asks_for_data_and_suggests_no_dose() -> None:
    record = [r for r in copy.deepcopy(RECORD) if r.get("id") not in ("wt",)]
    (card,) = _cards(_draft("ganciclovir", {"value": 500, "code": "mg"}), record=record)
    assert card.indicator == "warning"
    assert not card.suggestions
    assert "weight" in card.detail


def test_no_antiviral_draft_no_card() -> None:
    other = _draft("amoxicillin", {"value": 500, "code": "mg"}, hours=8)
    assert _cards(other) == []


def test_an_unreadable_draft_is_reported_not_ignored() -> None:
    draft = _draft("letermovir", {"value": 480, "code": "mg"}, hours=24)
    del draft["dosageInstruction"][0]["route"]  # letermovir is IV or oral: route needed
    (card,) = _cards(draft)
    assert card.indicator == "warning"
    assert "MedicationRequest/draft-letermovir" in card.summary
    assert not card.suggestions


def test_without_a_dialysis_status_the_card_asks_for_it() -> None:
    entries = [{"resource": r} for r in RECORD]
    drafts = {
        "resourceType": "Bundle",
        "entry": [{"resource": _draft("ganciclovir", {"value": 500, "code": "mg"})}],
    }
    (card,) = order_sign_cards(
        {"record": {"resourceType": "Bundle", "entry": entries}}, drafts, as_of=AS_OF
    )
    assert "dialysis" in card.detail
    assert not card.suggestions


def _cns(record: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The record with CMV encephalitis (SNOMED 83159006) in place of retinitis."""
    out = copy.deepcopy(record)
    for r in out:
        if r.get("id") == "retin":
            r["code"]["coding"][0]["code"] = "83159006"
    return out


def test_a_right_foscarnet_order_draws_one_info_hydration_reminder() -> None:
    # CNS disease: ganciclovir + foscarnet; 70 kg, 90 mg/kg q12h column → 70 mg/kg band
    fos = _draft("foscarnet", {"value": 4900, "code": "mg"})
    fos["dosageInstruction"][0]["timing"]["repeat"].update(duration=120, durationUnit="min")
    cards = _cards(fos, _draft("ganciclovir", {"value": 350, "code": "mg"}), record=_cns(RECORD))
    (card,) = cards
    assert card.indicator == "info" and not card.suggestions
    assert "hydration" in card.summary
    assert "70 mg/kg" in card.detail and "NOT CONFIRMED" in card.detail  # the band's volume


def test_a_right_dose_with_advice_beside_it_is_one_warning_without_suggestion() -> None:
    fos = _draft("foscarnet", {"value": 3150, "code": "mg"}, hours=8)
    fos["dosageInstruction"][0]["timing"]["repeat"].update(duration=120, durationUnit="min")
    (card,) = _cards(fos)  # retinitis: the regimen chosen is ganciclovir
    assert card.indicator == "warning" and not card.suggestions
    assert "ORD-REGIMEN-FIT" in card.detail


def test_the_suggestion_says_which_phase_it_assumed() -> None:
    (card,) = _cards(_draft("ganciclovir", {"value": 500, "code": "mg"}))
    assert "(as induction)" in card.suggestions[0].label


def test_a_draft_with_an_unknown_timing_code_is_named_and_the_others_still_checked() -> None:
    # bug: one draft whose schedule word cmvrx does not know failed the whole hook call
    odd = _draft("ganciclovir", {"value": 350, "code": "mg"})
    odd["id"] = "draft-odd"
    odd["dosageInstruction"][0]["timing"] = {"code": {"text": "XYZ"}}
    wrong = _draft("foscarnet", {"value": 9000, "code": "mg"}, hours=8)
    cards = _cards(odd, wrong)
    assert any("MedicationRequest/draft-odd" in c.summary and not c.suggestions for c in cards)
    assert any(c.suggestions and "foscarnet" in c.summary for c in cards)


def test_an_order_check_that_cannot_judge_is_a_card_not_a_failed_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cmvrx
    from cmvrx.errors import ContradictoryInputError

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise ContradictoryInputError("hemodialysis with CrCl 90 mL/min", field="renal")

    monkeypatch.setattr(cmvrx, "check_order", refuse)
    (card,) = _cards(_draft("ganciclovir", {"value": 500, "code": "mg"}))
    assert card.indicator == "warning" and not card.suggestions
    assert "CrCl 90" in card.summary + card.detail
