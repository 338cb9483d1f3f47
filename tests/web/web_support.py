"""Helpers for the web page tests: an app on a throw-away store, a signed-in client,
case data timed relative to the app's clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cmvrx import api
from cmvrx.service import create_app
from cmvrx.service.settings import Settings

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
USER = "alice"


def make_app(db_url: str, *, public_url: str = "http://testserver", **kw: Any) -> Any:
    settings = Settings(
        public_url=public_url, dev_no_auth=True, db_url=db_url, clock=NOW.timestamp, **kw
    )
    return create_app(settings)


def add_user(db_url: str, name: str = USER, password: str = PASSWORD) -> None:
    api.add_web_user(name, password, store=db_url)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, name: str = USER, password: str = PASSWORD) -> str:
    """Sign in; the session's CSRF token."""
    page = client.get("/web/signin")
    reply = client.post(
        "/web/signin",
        data={"csrf_token": csrf_of(page.text), "username": name, "password": password},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return csrf_of(client.get("/web/").text)


def at(hours_before: float) -> str:
    """A ``datetime-local`` value ``hours_before`` the app's clock (UTC)."""
    return (NOW - timedelta(hours=hours_before)).strftime("%Y-%m-%dT%H:%M")


def cns_form(**changes: str) -> dict[str, Any]:
    """The case form of a 42-year-old man with AIDS and CMV encephalitis (tests/cases
    cns_01): 70 kg, creatinine 0.8 mg/dL."""
    form: dict[str, Any] = {
        "case_id": "web-cns-1",
        "patient.age.value": "42",
        "patient.age.unit": "a",
        "patient.sex": "male",
        "patient.weight.value": "70",
        "patient.weight.unit": "kg",
        "patient.height.value": "178",
        "patient.height.unit": "cm",
        "renal.serum_creatinine.value": "0.8",
        "renal.serum_creatinine.unit": "mg/dL",
        "renal.serum_creatinine.measured_at": at(6),
        "renal.dialysis": "none",
        "disease.sites": ["encephalitis"],
        "hiv.status": "positive",
        "hiv.cd4.value": "22",
        "hiv.cd4.measured_at": at(96),
        "hiv.on_art": "false",
        "blood_counts.anc.value": "2500",
        "blood_counts.platelets.value": "180000",
        "blood_counts.hemoglobin.value": "11.5",
        "blood_counts.measured_at": at(6),
        "electrolytes.potassium.value": "4.0",
        "electrolytes.magnesium.value": "0.85",
        "electrolytes.ionized_calcium.value": "1.2",
        "electrolytes.phosphate.value": "1.1",
        "electrolytes.measured_at": at(6),
        "oral.can_take_oral": "true",
        "oral.can_absorb_oral": "true",
    }
    form.update(changes)
    return form


REPO = Path(__file__).resolve().parents[2]


def _obs(oid: str, loinc: str, when: str, value: float, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": code},
    }


def cns_bundle(now: datetime) -> dict[str, Any]:
    """A FHIR R4 Bundle of the same patient (CMV encephalitis, SNOMED 83159006; 70 kg;
    creatinine 0.8 mg/dL), measured six hours before ``now``; no dialysis recorded."""
    when = (now - timedelta(hours=6)).isoformat().replace("+00:00", "Z")
    born = f"{now.year - 43}-01-15"
    resources = [
        {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": born},
        _obs("wt", "29463-7", when, 70, "kg"),
        _obs("ht", "8302-2", when, 178, "cm"),
        _obs("scr", "2160-0", when, 0.8, "mg/dL"),
        _obs("anc", "751-8", when, 2500, "/uL"),
        _obs("plt", "777-3", when, 180, "10*3/uL"),
        _obs("hb", "718-7", when, 11.5, "g/dL"),
        {
            "resourceType": "Condition",
            "id": "enc",
            "subject": {"reference": "Patient/p1"},
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "verificationStatus": {"coding": [{"code": "confirmed"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "83159006"}]},
        },
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
