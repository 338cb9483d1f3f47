"""`cmvrx check-order`: verdicts, JSON contract, exit codes from the one map, order files."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from tests.test_order_vignettes import PATIENTS
from typer.testing import CliRunner

from cmvrx.cli.exits import ORDER_VERDICT_EXIT
from cmvrx.cli.main import app

AS_OF = "2026-11-24T12:00Z"


def _case(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(PATIENTS["adult"]))
    return path


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def test_adjust_prints_the_corrected_order_and_exits_6(tmp_path: Path) -> None:
    case = _case(tmp_path)
    r = _run(
        "check-order",
        str(case),
        "--drug",
        "ganciclovir",
        "--dose",
        "500mg",
        "--every",
        "12h",
        "--as-of",
        AS_OF,
        "--json",
    )
    assert r.exit_code == ORDER_VERDICT_EXIT["adjust"] == 6, r.output
    d = json.loads(r.stdout)
    assert d["verdict"] == "adjust"
    assert d["corrected"]["amount_mg"] == 350 and d["corrected"]["interval_hours"] == 12
    assert d["corrected"]["amount_mg_per_kg"] == 5


def test_ok_mg_per_kg_exits_0(tmp_path: Path) -> None:
    r = _run(
        "check-order",
        str(_case(tmp_path)),
        "--drug",
        "ganciclovir",
        "--dose",
        "5mg/kg",
        "--every",
        "q12h",
        "--route",
        "iv",
        "--as-of",
        AS_OF,
    )
    assert r.exit_code == 0, r.output
    assert "Verdict: OK" in r.stdout and "decision support" in r.stdout


def test_not_recommended_exits_3(tmp_path: Path) -> None:
    r = _run(
        "check-order",
        str(_case(tmp_path)),
        "--drug",
        "letermovir",
        "--dose",
        "480mg",
        "--every",
        "24h",
        "--route",
        "oral",
        "--as-of",
        AS_OF,
        "--json",
    )
    assert r.exit_code == 3
    assert json.loads(r.stdout)["verdict"] == "not_recommended"


def test_schedule_words(tmp_path: Path) -> None:
    r = _run(
        "check-order",
        str(_case(tmp_path)),
        "--drug",
        "cidofovir",
        "--dose",
        "5mg/kg",
        "--every",
        "weekly",
        "--as-of",
        AS_OF,
        "--json",
    )
    assert r.exit_code in (0, 3, 6), r.output
    assert json.loads(r.stdout)["results"][0]["order"]["schedule"] == "once-weekly"


def test_order_file_with_a_list(tmp_path: Path) -> None:
    orders = tmp_path / "orders.yaml"
    orders.write_text(
        yaml.safe_dump(
            [
                {"id": "a", "drug": "ganciclovir", "amount_mg": 350, "interval_hours": 12},
                {"id": "b", "drug": "valganciclovir", "amount_mg": 900, "interval_hours": 12},
            ]
        )
    )
    r = _run(
        "check-order", str(_case(tmp_path)), "--order", str(orders), "--as-of", AS_OF, "--json"
    )
    d = json.loads(r.stdout)
    assert r.exit_code == 3 and d["verdict"] == "not_recommended"
    assert [x["order_id"] for x in d["results"]] == ["a", "b"]


def test_bad_input_exits_2_naming_the_option(tmp_path: Path) -> None:
    r = _run(
        "check-order",
        str(_case(tmp_path)),
        "--drug",
        "ganciclovir",
        "--dose",
        "5 mgkg",
        "--every",
        "12h",
        "--as-of",
        AS_OF,
    )
    assert r.exit_code == 2
    assert "--dose" in r.stderr and "Traceback" not in r.output
    r = _run(
        "check-order",
        str(_case(tmp_path)),
        "--drug",
        "ganciclovir",
        "--dose",
        "350mg",
        "--as-of",
        AS_OF,
    )
    assert r.exit_code == 2 and "--every" in r.stderr


def test_fhir_medication_request_needs_the_fhir_layer(tmp_path: Path) -> None:
    orders = tmp_path / "mr.json"
    orders.write_text(json.dumps({"resourceType": "MedicationRequest", "status": "draft"}))
    r = _run("check-order", str(_case(tmp_path)), "--order", str(orders), "--as-of", AS_OF)
    assert r.exit_code == 2
    assert "MedicationRequest" in r.stderr
