"""Hypothesis over FHIR resource shapes: the inbound mapping never crashes, and never
converts silently — every bound Observation is either used with the unit it was sent in
(a unit its code allows) or reported with its id; every order carries the dose exactly
as sent, in mg or mg/kg."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmvrx import api
from cmvrx.fhir import inbound
from cmvrx.fhir.problems import PROBLEM_KINDS

AS_OF = datetime(2026, 3, 10, 12, tzinfo=UTC)
K = api.load_knowledge()
assert K.terminology is not None
BINDINGS = {o.code: o for o in K.terminology.observation}
ALL_UNITS = sorted({u for o in K.terminology.observation for u in o.units})
FIELD_OF = {
    "creatinine": ("renal", "serum_creatinine"),
    "weight": ("patient", "weight"),
    "anc": ("blood_counts", "anc"),
    "platelets": ("blood_counts", "platelets"),
    "hemoglobin": ("blood_counts", "hemoglobin"),
    "potassium": ("electrolytes", "potassium"),
}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
times = st.sampled_from(
    [
        "2026-03-10T06:00:00Z",
        "2026-03-09T06:00:00+02:00",
        "2026-03-10",
        "2026-03-10T06:00:00",
        "2026-03-12T00:00:00Z",
        "garbage",
        None,
        17,
        "2026-01-01T00:00:00Z",
    ]
)
statuses = st.sampled_from(
    ["final", "amended", "corrected", "preliminary", "entered-in-error", "cancelled", None, 3]
)
units = st.sampled_from([*ALL_UNITS, "mmol/L", "mg%", "mL/min/1.73m2", "", None, "kg"])
numbers = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(10**9), 10**9)
    | st.booleans()
    | st.text(max_size=4)
)


@st.composite
def observations(draw: st.DrawFn) -> dict[str, Any]:
    code = draw(st.sampled_from([*BINDINGS, "8867-4"]))
    quantity: Any = {"value": draw(numbers), "code": draw(units)}
    if draw(st.booleans()):
        quantity["comparator"] = draw(st.sampled_from(["<", ">", "<=", "ad"]))
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"o{draw(st.integers(0, 10**6))}",
        "status": draw(statuses),
        "code": {
            "coding": [
                {"system": draw(st.sampled_from(["http://loinc.org", "urn:local"])), "code": code}
            ]
        },
        "effectiveDateTime": draw(times),
        "valueQuantity": draw(st.sampled_from([quantity, None, "x", {}])),
    }
    if draw(st.booleans()):
        resource["referenceRange"] = draw(
            st.sampled_from(
                [
                    [{"low": {"value": 35, "code": "[IU]/mL"}}],
                    [{"text": "< 137 IU/mL"}],
                    "bad",
                    [None],
                ]
            )
        )
    if draw(st.booleans()):
        resource["valueString"] = draw(st.sampled_from(["Not detected", "2+", "trace", "??"]))
    return resource


@st.composite
def medication_requests(draw: st.DrawFn) -> dict[str, Any]:
    dose: Any = {
        "value": draw(numbers),
        "code": draw(st.sampled_from(["mg", "mg/kg", "g", "mL", None])),
    }
    shape = draw(st.sampled_from(["array", "object", "bare", "none"]))
    dosage: dict[str, Any] = {
        "timing": draw(
            st.sampled_from(
                [
                    {"repeat": {"frequency": 1, "period": 12, "periodUnit": "h"}},
                    {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                    {
                        "repeat": {
                            "frequency": draw(numbers),
                            "period": draw(numbers),
                            "periodUnit": draw(st.sampled_from(["h", "d", "mo", None])),
                        }
                    },
                    {"code": {"coding": [{"code": "BID"}]}},
                    {},
                    "junk",
                ]
            )
        ),
        "route": draw(
            st.sampled_from(
                [
                    {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]},
                    {"text": "PO"},
                    None,
                    "iv",
                ]
            )
        ),
    }
    if shape == "array":
        dosage["doseAndRate"] = [{"doseQuantity": dose}]
    elif shape == "object":
        dosage["doseAndRate"] = {"doseQuantity": dose}
    elif shape == "bare":
        dosage["doseQuantity"] = dose
    return {
        "resourceType": "MedicationRequest",
        "id": f"m{draw(st.integers(0, 10**6))}",
        "status": draw(st.sampled_from(["draft", "active", "completed", None])),
        "medicationCodeableConcept": draw(
            st.sampled_from(
                [
                    {"text": "ganciclovir"},
                    {"text": "Foscarnet"},
                    {
                        "coding": [
                            {
                                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                "code": "313566",
                            }
                        ]
                    },
                    {
                        "coding": [
                            {
                                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                "code": "4678",
                            }
                        ]
                    },
                    {"text": "letermovir"},
                    "x",
                ]
            )
        ),
        "dosageInstruction": draw(st.sampled_from([[dosage], dosage, [], None])),
    }


arbitrary = st.builds(
    lambda kind, body: {**body, "resourceType": kind},
    st.sampled_from([*sorted(inbound.READ_TYPES), "Bundle", "Encounter", ""]),
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "status",
                "code",
                "subject",
                "valueQuantity",
                "dosageInstruction",
                "entry",
                "gender",
                "birthDate",
                "clinicalStatus",
                "medicationReference",
            ]
        ),
        json_values,
        max_size=6,
    ),
)

patient = {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1980-01-01"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(observations(), max_size=6, unique_by=lambda r: r["id"]))
def test_observations_used_as_sent_or_reported(resources: list[dict[str, Any]]) -> None:
    result = inbound.read([patient, *resources], as_of=AS_OF, no_dialysis_unless_recorded=True)
    reported = {p.resource for p in result.problems}
    assert all(p.kind in PROBLEM_KINDS for p in result.problems)
    used = {m.resource for m in result.matched}
    doc = result.case_document
    for r in resources:
        ref = f"Observation/{r['id']}"
        bound = (
            r["code"]["coding"][0]["system"] == "http://loinc.org"
            and r["code"]["coding"][0]["code"] in BINDINGS
        )
        if not bound:
            assert ref not in used
            continue
        assert ref in used  # recognised, then used or reported
        binding = BINDINGS[r["code"]["coding"][0]["code"]]
        path = FIELD_OF.get(binding.analyte)
        if path is None or ref in reported:
            continue
        # used: the newest value of its analyte is in the case in the unit it was sent in
        sent = r["valueQuantity"]
        assert sent["code"] in binding.units
        assert r["status"] in ("final", "amended", "corrected")
        value = doc.get(path[0], {}).get(path[1])
        assert value is not None and value["unit"] in binding.units


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(medication_requests(), max_size=4, unique_by=lambda r: r["id"]))
def test_orders_carry_the_dose_exactly_as_sent(resources: list[dict[str, Any]]) -> None:
    result = inbound.read([patient, *resources], as_of=AS_OF)
    by_id = {r["id"]: r for r in resources}
    for order in (*result.orders, *result.active_orders):
        r = by_id[order["id"]]
        dosage = (
            r["dosageInstruction"][0]
            if isinstance(r["dosageInstruction"], list)
            else r["dosageInstruction"]
        )
        dar = dosage.get("doseAndRate")
        q = (
            (dar[0] if isinstance(dar, list) else dar or dosage)["doseQuantity"]
            if dar
            else dosage["doseQuantity"]
        )
        key = {"mg": "amount_mg", "mg/kg": "amount_mg_per_kg"}[q["code"]]
        assert order[key] == q["value"] and q["value"] > 0
        assert order["route"] in ("iv", "oral")
        assert set(order) <= {
            "id",
            "drug",
            "route",
            "amount_mg",
            "amount_mg_per_kg",
            "interval_hours",
            "schedule",
            "infusion_minutes",
        }
        assert ("interval_hours" in order) != ("schedule" in order)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(arbitrary | json_values, max_size=6))
def test_arbitrary_shapes_never_crash(resources: list[Any]) -> None:
    result = inbound.read(resources, as_of=AS_OF)
    result.to_dict()
    assert all(p.kind in PROBLEM_KINDS and p.message for p in result.problems)
    inbound.read({"a": {"resourceType": "Bundle", "entry": resources}, "b": None}, as_of=AS_OF)
