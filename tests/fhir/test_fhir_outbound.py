"""Outbound: plans for the example cases and the plan vignettes become FHIR Bundles whose
every resource validates against the R4B models of ``fhir.resources``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from cmvrx import api
from cmvrx.fhir.outbound import EXT_CITATION, EXT_RULE, TAG_KNOWLEDGE, to_bundle

R4B = pytest.importorskip(
    "fhir.resources.R4B", reason="fhir.resources (extra 'dev') is not installed"
)
ROOT = Path(__file__).parents[2]
VIGNETTES = sorted((ROOT / "tests" / "cases").glob("*.yaml"))


def _validate(resource: dict[str, Any]) -> None:
    R4B.get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def _plan(path: Path) -> Any:
    spec = yaml.safe_load(path.read_text())
    as_of = spec.get("as_of")
    as_of = datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    return api.plan(spec["case"], as_of=as_of)


def _plans() -> list[tuple[str, Any]]:
    out = []
    for path in VIGNETTES:
        try:
            out.append((path.stem, _plan(path)))
        except Exception:  # vignettes that expect an input error have no plan
            continue
    return out


PLANS = _plans()


def test_some_vignettes_plan() -> None:
    assert len(PLANS) >= 30


@pytest.mark.parametrize(("name", "plan"), PLANS, ids=[n for n, _ in PLANS])
def test_bundle_validates_and_carries_rules(name: str, plan: Any) -> None:
    k = api.load_knowledge()
    bundle = to_bundle(plan, k)
    _validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[:2] == ["RequestGroup", "CarePlan"] and kinds[-1] == "Provenance"
    for entry in bundle["entry"]:
        r = entry["resource"]
        _validate(r)
        assert r["meta"]["tag"][0] == {
            **r["meta"]["tag"][0],
            "system": TAG_KNOWLEDGE,
            "code": k.version,
        }
        if r["resourceType"] != "Provenance":
            urls = [e["url"] for e in r["extension"]]
            assert urls[0] == EXT_RULE and EXT_CITATION in urls
    assert to_bundle(plan, k) == bundle  # pure: same plan, same Bundle


def test_medication_request_shape() -> None:
    plan = api.plan(
        ROOT / "examples" / "cns-encephalitis-hiv.yaml",
        as_of=datetime(2026, 11, 25, 12, tzinfo=UTC),
    )
    bundle = to_bundle(plan, api.load_knowledge(), patient_reference="Patient/abc")
    mrs = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    ]
    gcv = next(m for m in mrs if m["medicationCodeableConcept"]["text"] == "Ganciclovir")
    dosage = gcv["dosageInstruction"][0]
    assert dosage["doseAndRate"][0]["doseQuantity"] == {
        "value": 320.0,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert dosage["timing"]["repeat"] == {
        "frequency": 1,
        "period": 12,
        "periodUnit": "h",
        "duration": 60.0,
        "durationUnit": "min",
    }
    assert dosage["route"]["coding"][0]["code"] == "47625008"
    assert dosage["doseAndRate"][0]["rateQuantity"]["code"] == "mg/min"
    assert gcv["subject"] == {"reference": "Patient/abc"}
    assert {"system": "http://www.whocc.no/atc", "code": "J05AB06"} in gcv[
        "medicationCodeableConcept"
    ]["coding"]
    rule = next(e["valueString"] for e in gcv["extension"] if e["url"] == EXT_RULE)
    assert rule.startswith("ganciclovir.induction")
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"ServiceRequest", "DetectedIssue"} <= kinds
    group = bundle["entry"][0]["resource"]
    assert len(group["action"]) == len(bundle["entry"]) - 3


def test_maintenance_options_are_intent_option() -> None:
    plan = api.plan(
        ROOT / "examples" / "cns-encephalitis-hiv.yaml",
        as_of=datetime(2026, 11, 25, 12, tzinfo=UTC),
    )
    bundle = to_bundle(plan, api.load_knowledge())
    options = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
        and e["resource"]["intent"] == "option"
    ]
    assert any(o["medicationCodeableConcept"]["text"] == "Valganciclovir" for o in options)
    oral = next(o for o in options if o["medicationCodeableConcept"]["text"] == "Valganciclovir")
    assert "coding" not in oral["dosageInstruction"][0]["route"]  # 26643006 is UNCONFIRMED
    assert oral["dosageInstruction"][0]["timing"]["repeat"] == {
        "frequency": 1,
        "period": 1,
        "periodUnit": "d",
    }
