"""The pages: case entry (units, errors at the field), import (case file, FHIR Bundle),
the plan view, the course view, the knowledge browser."""

from __future__ import annotations

import html
import json
import re

import pytest
import yaml
from fastapi.testclient import TestClient
from web_support import NOW, REPO, at, cns_bundle, cns_form, sign_in

from cmvrx import api


def _doses(page: str) -> list[str]:
    return re.findall(r'data-field="practical_mg">([^<]*)<', page)


def _field_errors(page: str) -> dict[str, str]:
    return dict(re.findall(r'class="field-error" id="err-([^"]+)">([^<]*)<', page))


def _plan(client: TestClient, **changes: str) -> str:
    token = sign_in(client)
    reply = client.post("/web/case", data={"csrf_token": token, **cns_form(**changes)})
    return reply.text


def test_a_cns_case_shows_the_combination_regimen_with_its_doses(client: TestClient) -> None:
    page = _plan(client)
    regimen = page.split('id="h-regimen"')[1].split('id="h-renal"')[0]
    # tests/cases/cns_01: ganciclovir 5 mg/kg × 70 kg = 350 mg q12h; foscarnet 60 mg/kg = 4200 mg q8h
    assert _doses(regimen) == ["350 mg", "4200 mg"]
    assert re.findall(r'data-field="interval">([^<]*)<', regimen) == ["q12h", "q8h"]
    assert "REG-CNS-COMBINATION" in regimen
    assert "mg/kg/min" in regimen  # infusion rate
    assert "Hydration" in regimen
    assert "119.1 mL/min" in page  # CrCl (Cockcroft–Gault)
    assert 'id="weight-used">70 kg' in page
    assert "NOT CONFIRMED values this plan used" in page
    assert "Decision support, not a prescriber" in page
    assert page.index('id="h-regimen"') < page.index('id="h-mon"') < page.index('id="h-maint"')
    assert page.index('id="h-maint"') < page.index('id="h-alerts"')
    assert "<details>" in page and "SEED-1" in page


def test_the_plan_matches_the_api(client: TestClient) -> None:
    page = _plan(client)
    case_json = html.unescape(re.search(r'name="case_json" value="([^"]+)"', page)[1])
    plan = api.plan(json.loads(case_json), as_of=NOW).to_dict()
    expected = [f"{d['practical_mg']:g} mg" for d in plan["regimen"]["induction"]]
    expected += [f"{d['practical_mg']:g} mg" for d in plan["maintenance"]["options"]]
    assert _doses(page) == expected
    for alert in plan["alerts"]:
        assert f'data-rule="{alert["rule_id"]}"' in page


def test_pounds_inches_and_micromoles_go_to_the_api_with_their_units(client: TestClient) -> None:
    page = _plan(
        client,
        **{
            "patient.weight.value": "154.3236",
            "patient.weight.unit": "[lb_av]",
            "patient.height.value": "70.08",
            "patient.height.unit": "[in_i]",
            "renal.serum_creatinine.value": "70.72",
            "renal.serum_creatinine.unit": "umol/L",
        },
    )
    assert 'id="weight-used">70 kg' in page
    assert _doses(page)[:2] == ["350 mg", "4200 mg"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"patient.weight.value": "seventy"}, "patient-weight-value"),
        ({"patient.weight.value": "7000"}, "patient-weight-value"),
        ({"patient.age.value": ""}, "patient-age-value"),
        ({"renal.dialysis": ""}, "renal-dialysis"),
        ({"disease.sites": []}, "disease-sites"),
        ({"blood_counts.measured_at": ""}, "blood_counts-measured_at"),
        ({"renal.serum_creatinine.measured_at": at(-48)}, "renal-serum_creatinine-value"),
        ({"renal.serum_creatinine.unit": "mmol/L"}, "renal-serum_creatinine-value"),
    ],
)
def test_bad_input_shows_the_error_at_the_field_and_no_dose(
    client: TestClient, changes: dict[str, str], field: str
) -> None:
    token = sign_in(client)
    reply = client.post("/web/case", data={"csrf_token": token, **cns_form(**changes)})
    assert reply.status_code == 422
    errors = _field_errors(reply.text)
    assert field in errors, (errors, reply.text.split('id="form-errors"')[1][:400])
    assert _doses(reply.text) == []
    assert "mg/kg" not in reply.text.split("<main")[1]
    assert 'aria-invalid="true"' in reply.text or 'class="checks invalid"' in reply.text


def test_a_case_file_is_imported(client: TestClient) -> None:
    token = sign_in(client)
    case = yaml.safe_load((REPO / "tests/cases/cns_01_encephalitis_hiv_adult.yaml").read_text())
    doc = case["case"]
    for group in ("blood_counts", "electrolytes"):
        for value in doc[group].values():
            value["measured_at"] = NOW.isoformat()
    doc["renal"]["serum_creatinine"]["measured_at"] = NOW.isoformat()
    reply = client.post(
        "/web/import", data={"csrf_token": token, "import_text": yaml.safe_dump(doc)}
    )
    assert reply.status_code == 200
    assert _doses(reply.text)[:2] == ["350 mg", "4200 mg"]


def test_a_bad_case_file_names_the_problem_and_shows_no_dose(client: TestClient) -> None:
    token = sign_in(client)
    reply = client.post(
        "/web/import", data={"csrf_token": token, "import_text": "case_id: x\npatient: 3\n"}
    )
    assert reply.status_code == 422
    assert "import_text" in _field_errors(reply.text)
    assert _doses(reply.text) == []


def test_a_fhir_bundle_is_imported(client: TestClient) -> None:
    token = sign_in(client)
    text = json.dumps(cns_bundle(NOW))
    asked = client.post("/web/import", data={"csrf_token": token, "import_text": text})
    assert asked.status_code == 422
    assert "no dialysis status recorded" in asked.text  # never assumed
    assert _doses(asked.text) == []
    reply = client.post(
        "/web/import",
        data={"csrf_token": token, "import_text": text, "import_dialysis": "none"},
    )
    assert reply.status_code == 200
    assert _doses(reply.text)[:2] == ["350 mg", "4200 mg"]


def _course(client: TestClient, token: str, course_id: str = "course-1") -> str:
    page = client.post("/web/case", data={"csrf_token": token, **cns_form()}).text
    case_json = html.unescape(re.search(r'name="case_json" value="([^"]+)"', page)[1])
    made = client.post(
        "/web/courses",
        data={
            "csrf_token": token,
            "course_id": course_id,
            "case_json": case_json,
            "record_start": "yes",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    return str(made.headers["location"])


def test_a_course_shows_its_chart_and_the_assessment_changes_with_new_events(
    client: TestClient,
) -> None:
    token = sign_in(client)
    where = _course(client, token)
    before = client.get(where).text
    assert "data:image/svg+xml;base64," in before
    assert "induction" in before
    events = [
        {"kind": "cmv_pcr", "at": at(1), "result": "detected", "value": "125000",
         "lower_limit": "35", "specimen": "plasma"},
        {"kind": "lab", "at": at(1), "analyte": "creatinine", "value": "1.6", "unit": "mg/dL"},
    ]  # fmt: skip
    for event in events:
        added = client.post(
            where + "/events", data={"csrf_token": token, **event}, follow_redirects=False
        )
        assert added.status_code == 303, added.text
    after = client.get(where).text
    assessment = lambda page: page.split('id="assessment"')[1].split('id="h-chart"')[0]  # noqa: E731
    assert assessment(before) != assessment(after)
    assert "redose" in assessment(after)
    assert "125000" in after and "creatinine" in after


def test_a_bad_event_is_refused_at_its_field(client: TestClient) -> None:
    token = sign_in(client)
    where = _course(client, token)
    reply = client.post(
        where + "/events",
        data={"csrf_token": token, "kind": "lab", "at": at(1), "analyte": "creatinine",
              "value": "abc", "unit": "mg/dL"},
    )  # fmt: skip
    assert reply.status_code == 422
    assert "value" in _field_errors(reply.text)
    no_unit = client.post(
        where + "/events",
        data={"csrf_token": token, "kind": "cmv_pcr", "at": at(1), "result": "detected"},
    )
    assert no_unit.status_code == 422
    assert _field_errors(no_unit.text)


def test_an_unknown_course_reference_is_not_found(client: TestClient) -> None:
    sign_in(client)
    assert client.get("/web/courses/nope").status_code == 404


def test_the_knowledge_browser_lists_every_table_and_rule(client: TestClient) -> None:
    sign_in(client)
    page = client.get("/web/knowledge").text
    k = api.load_knowledge()
    assert f"Knowledge version {k.version}" in page
    for schedule in k.schedules:
        assert schedule in page
    for rule in (*k.rules, *k.refusals, *k.alerts, *k.monitoring, *k.resistance):
        assert rule.id in page
    assert page.count("NOT CONFIRMED") >= len(
        [p for p in k.parameters.values() if not p.grade.confirmed]
    )
