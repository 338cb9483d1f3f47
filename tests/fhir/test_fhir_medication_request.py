"""``cmvrx.fhir.medication_request``: one FHIR MedicationRequest as a ``Dosage`` — the hook
``cmvrx.api`` uses for FHIR orders (``cmvrx check-order --order``, REST check-order): the
three dose shapes, both ways of writing q12h, the drug by code or name; anything that
cannot be read is an ``InputError`` naming the field, never completed by guess."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.test_order_vignettes import PATIENTS
from typer.testing import CliRunner

from cmvrx import api
from cmvrx.cli.main import app
from cmvrx.errors import InputError
from cmvrx.fhir.medication_request import dosage_from_medication_request

IV = {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]}
QUANTITY = {"value": 350, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}


def _mr(**dosage: Any) -> dict[str, Any]:
    instruction = {"route": IV, "timing": {"repeat": {"frequency": 1, "period": 12, "periodUnit": "h"}},
                   "doseAndRate": [{"doseQuantity": QUANTITY}], **dosage}  # fmt: skip
    return {"resourceType": "MedicationRequest", "id": "mr-1", "status": "draft",
            "medicationCodeableConcept": {"text": "Ganciclovir 500 mg injection"},
            "dosageInstruction": [instruction]}  # fmt: skip


@pytest.mark.parametrize(
    "dosage",
    [
        {},
        {"doseAndRate": {"doseQuantity": QUANTITY}},  # a single object (CDS Hooks example)
        {"doseAndRate": None, "doseQuantity": QUANTITY},  # bare (STU3)
        {"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}},
    ],
)
def test_every_shape_reads_as_350_mg_q12h(dosage: dict[str, Any]) -> None:
    d = dosage_from_medication_request(_mr(**dosage))
    assert (d.drug, d.route, d.amount_mg, d.interval.hours, d.order_id) == (
        "ganciclovir", "iv", 350, 12, "mr-1",
    )  # fmt: skip


def test_by_rxnorm_code_and_without_an_id() -> None:
    mr = _mr()
    del mr["id"]
    mr["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "313566"}]
    }
    d = dosage_from_medication_request(mr)
    assert d.order_id is None and d.drug


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"medicationCodeableConcept": {"text": "amoxicillin"}}, "medication"),
        ({"medicationCodeableConcept": None}, "medication"),
        ({"dosageInstruction": [{"route": IV}]}, "dosageInstruction"),
        ({"resourceType": "MedicationStatement"}, "resourceType"),
    ],
)
def test_what_cannot_be_read_names_the_field(change: dict[str, Any], field: str) -> None:
    mr = {**_mr(), **change}
    if change.get("medicationCodeableConcept", "") is None:
        del mr["medicationCodeableConcept"]
        field = "medicationCodeableConcept"
    with pytest.raises(InputError) as info:
        dosage_from_medication_request(mr)
    assert (info.value.field or "").startswith(field)


def test_api_reads_a_fhir_order_among_order_documents() -> None:
    orders = [api.read_order(_mr()), api.read_order({"drug": "foscarnet", "amount_mg": 3150,
                                                     "interval_hours": 8})]  # fmt: skip
    assert [o.drug for o in orders] == ["ganciclovir", "foscarnet"]


def test_cmvrx_check_order_takes_a_medication_request(tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(yaml.safe_dump(PATIENTS["adult"]))
    order = tmp_path / "mr.json"
    order.write_text(json.dumps(_mr()))
    r = CliRunner().invoke(app, ["check-order", str(case), "--order", str(order),
                                 "--as-of", "2026-11-24T12:00Z", "--json"])  # fmt: skip
    assert r.exit_code in (0, 6), r.output  # judged, not refused as unreadable
    assert json.loads(r.stdout)["results"][0]["order_id"] == "mr-1"
