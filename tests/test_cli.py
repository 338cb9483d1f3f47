"""The ``cmvrx`` command line: commands, rendering, the error → exit-code map, help, docs.

Runs the Typer app in process (``CliRunner``) and, for the real thing, as a fresh
``python -m cmvrx`` process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.main import get_command
from typer.testing import CliRunner

import cmvrx
from cmvrx.cli import main as cli
from cmvrx.cli.exits import exit_code_for
from cmvrx.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cns-encephalitis-hiv.yaml"
HD_EXAMPLE = ROOT / "examples" / "sot-colitis-hemodialysis.json"
AS_OF = "2026-11-24T08:00:00+00:00"
AS_OF_DT = datetime(2026, 11, 24, 8, tzinfo=UTC)
ADULT = ["--weight", "70", "--creatinine", "1.0", "--age", "50", "--sex", "male"]

runner = CliRunner()


def invoke(*args: str, stdin: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin)


def flat(text: str) -> str:
    """Output with the terminal's line wrapping and table borders undone."""
    return " ".join(re.sub(r"[│┃┏┓┗┛┡┩└┘├┤┼┬┴━─╇╈═]", " ", text).split())


def assert_no_dose(output: str) -> None:
    assert "Traceback" not in output
    assert "practical mg" not in output
    assert not re.search(r"\d+ mg(?!/)", output), output


# --------------------------------------------------------------------------- plan


def test_plan_human_report_has_every_section() -> None:
    result = invoke("plan", str(EXAMPLE), "--as-of", AS_OF, "--full")
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    for heading in (
        "Patient",
        "Renal function",
        "Regimen: Ganciclovir + foscarnet",
        "Induction doses",
        "Infusion, hydration and administration",
        "Not offered for this patient",
        "Maintenance options",
        "Criteria",
        "Monitoring",
        "Alerts",
        "NOT CONFIRMED values used",
        "Sources",
    ):
        assert heading in text, heading
    plan = cmvrx.plan(EXAMPLE, as_of=AS_OF_DT)
    assert "Cockcroft–Gault, actual weight 64.0 kg" in text
    assert plan.regimen.rule_id in text
    for d in plan.regimen.induction:
        assert f"{d.practical_mg:g} mg" in text
        assert d.interval in text
    for r in plan.refused:
        assert r.rule_id in text
    assert "WARNING" in text
    assert plan.provenance.knowledge_hash in text
    assert f"knowledge {plan.provenance.knowledge_version}" in text
    assert "2026-11-24T08:00:00+00:00" in text
    assert " ".join(cmvrx.DISCLAIMER.split()) in text


def test_plan_json_is_the_plan_to_dict() -> None:
    result = invoke("plan", str(EXAMPLE), "--json", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    expected = cmvrx.plan(EXAMPLE, as_of=AS_OF_DT).to_dict()
    assert json.loads(result.stdout) == expected


def test_plan_reads_json_cases_and_stdin() -> None:
    by_file = invoke("plan", str(HD_EXAMPLE), "--json", "--as-of", AS_OF)
    assert by_file.exit_code == 0, by_file.output
    by_stdin = invoke("plan", "-", "--json", "--as-of", AS_OF, stdin=HD_EXAMPLE.read_text())
    assert by_stdin.exit_code == 0, by_stdin.output
    assert json.loads(by_file.stdout) == json.loads(by_stdin.stdout)


def test_plan_as_of_defaults_to_now_utc() -> None:
    before = datetime.now(UTC)
    result = invoke("plan", str(EXAMPLE), "--json")
    assert result.exit_code == 0, result.output
    as_of = datetime.fromisoformat(json.loads(result.stdout)["provenance"]["as_of"])
    assert as_of.tzinfo is not None and before <= as_of <= datetime.now(UTC)


def test_plan_override_changes_the_stamp() -> None:
    result = invoke(
        "plan", str(EXAMPLE), "--json", "--as-of", AS_OF,
        "--override", "creatinine_max_age_hours=48",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stamp = json.loads(result.stdout)["provenance"]
    assert stamp["knowledge_hash"] != cmvrx.load_knowledge().content_hash
    values = {n["id"]: n["value"] for n in json.loads(result.stdout)["not_confirmed"]}
    assert values["creatinine_max_age_hours"].startswith("48")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--override", "ganciclovir_min_anc=100"], "--override"),
        (["--override", "creatinine_max_age_hours"], "--override"),
        (["--override", "creatinine_max_age_hours=soon"], "--override"),
        (["--as-of", "2026-11-24T08:00"], "--as-of"),
        (["--as-of", "yesterday"], "--as-of"),
    ],
)
def test_plan_bad_options_exit_2(args: list[str], needle: str) -> None:
    result = invoke("plan", str(EXAMPLE), *args)
    assert result.exit_code == 2
    assert needle in result.stderr
    assert_no_dose(result.output)


def _case_file(tmp_path: Path, change: dict[str, Any]) -> Path:
    case = yaml.safe_load(EXAMPLE.read_text())
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = case
        for part in parents:
            node = node[part]
        node[last] = value
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(case))
    return path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"patient.weight.value": -5}, "patient.weight"),
        ({"renal.serum_creatinine.value": 0}, "renal.serum_creatinine"),
        ({"patient.age.value": 250}, "patient.age"),
        ({"renal.serum_creatinine.unit": "mmol/dL"}, "renal.serum_creatinine"),
        (
            {
                "renal.dialysis": "intermittent_hemodialysis",
                "renal.measured_creatinine_clearance": {
                    "value": 90,
                    "unit": "mL/min",
                    "measured_at": "2026-11-24T06:00:00Z",
                },
            },
            "renal.dialysis",
        ),
        ({"disease.sites": []}, "disease.sites"),
    ],
)
def test_plan_bad_case_exits_2_naming_the_field(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    result = invoke("plan", str(_case_file(tmp_path, change)), "--as-of", AS_OF)
    assert result.exit_code == 2, result.output
    assert field in result.stderr
    assert result.stderr.count("\n") == 1  # one line
    assert result.stdout == ""
    assert_no_dose(result.output)


def test_plan_missing_file_exits_2(tmp_path: Path) -> None:
    result = invoke("plan", str(tmp_path / "nobody.yaml"))
    assert result.exit_code == 2
    assert "nobody.yaml" in result.stderr


# --------------------------------------------------------------------------- dose

EACH_DRUG = [
    ("ganciclovir", "induction", []),
    ("ganciclovir", "maintenance", []),
    ("valganciclovir", "induction", []),
    ("valganciclovir", "maintenance", []),
    ("foscarnet", "induction", ["--column", "90_q12h"]),
    ("foscarnet", "maintenance", ["--column", "120_per_day"]),
    ("cidofovir", "induction", ["--urine-dipstick", "negative"]),
    ("letermovir", "prophylaxis", ["--medication", "cyclosporine"]),
    ("maribavir", "refractory_treatment", []),
]


@pytest.mark.parametrize(("drug", "phase", "extra"), EACH_DRUG)
def test_dose_each_drug(drug: str, phase: str, extra: list[str]) -> None:
    expected = cmvrx.dose(
        drug, phase=phase, as_of=AS_OF_DT, weight_kg=70, creatinine=1.0, age_years=50,
        sex="male", column=extra[1] if extra[:1] == ["--column"] else None,
        medications=tuple(extra[1:2]) if extra[:1] == ["--medication"] else (),
        urine_dipstick=extra[1] if extra[:1] == ["--urine-dipstick"] else None,
    )  # fmt: skip
    assert expected.status == "dose"
    human = invoke("dose", drug, "--phase", phase, *ADULT, *extra)
    assert human.exit_code == 0, human.output
    text = flat(human.stdout)
    assert f"{expected.practical_mg:g} mg" in text
    assert expected.interval in text
    assert " ".join(cmvrx.DISCLAIMER.split()) in text
    as_json = invoke("dose", drug, "--phase", phase, *ADULT, *extra, "--json")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["dose"]["practical_mg"] == expected.practical_mg
    assert data["dose"]["rule_id"] == expected.rule_id
    assert data["provenance"]["knowledge_hash"] == cmvrx.load_knowledge().content_hash


def test_dose_pediatric_valganciclovir_prevention() -> None:
    args = ["--weight", "18", "--creatinine", "0.4", "--age", "5", "--sex", "female"]
    result = invoke("dose", "valganciclovir", "--phase", "prevention", *args, "--height", "110")
    assert result.exit_code == 0, result.output
    assert "Schwartz" in flat(result.stdout)


def test_dose_umol_per_litre_equals_mg_per_dl() -> None:
    base = ["dose", "ganciclovir", "--phase", "induction", "--age", "50", "--sex", "male"]
    mg = invoke(*base, "--weight", "70", "--creatinine", "1.5", "--json")
    umol = invoke(
        *base, "--weight", "70", "--creatinine", "132.6", "--creatinine-unit", "umol/L", "--json"
    )
    assert json.loads(mg.stdout)["dose"]["band"] == json.loads(umol.stdout)["dose"]["band"]


BAD_DOSE_INPUT = [
    (["--weight", "-5", "--creatinine", "1", "--age", "50"], "--weight", 2),
    (["--weight", "70", "--creatinine", "0", "--age", "50"], "--creatinine", 2),
    (["--weight", "70", "--creatinine", "1", "--age", "250"], "--age", 2),
    (
        ["--weight", "70", "--creatinine", "1", "--age", "50", "--creatinine-unit", "mmol/dL"],
        "--creatinine-unit",
        2,
    ),
    (["--weight", "70", "--creatinine", "1", "--age", "50", "--dialysis", "hd"], "--dialysis", 2),
    (["--weight", "seventy", "--creatinine", "1", "--age", "50"], "--weight", 2),
]


@pytest.mark.parametrize(("args", "needle", "code"), BAD_DOSE_INPUT)
def test_dose_bad_input(args: list[str], needle: str, code: int) -> None:
    result = invoke("dose", "ganciclovir", "--phase", "induction", "--sex", "male", *args)
    assert result.exit_code == code, result.output
    assert needle in result.stderr
    assert result.stdout == ""
    assert_no_dose(result.output)


def test_letermovir_induction_is_refused_exit_3() -> None:
    result = invoke("dose", "letermovir", "--phase", "induction", *ADULT)
    assert result.exit_code == 3
    assert "REF-LETERMOVIR-TREATMENT" in result.stderr
    assert "prophylaxis" in result.stderr
    assert_no_dose(result.output)


def test_unknown_drug_and_phase_exit_2() -> None:
    drug = invoke("dose", "acyclovir", "--phase", "induction", *ADULT)
    assert drug.exit_code == 2 and "DRUG" in drug.stderr and "ganciclovir" in drug.stderr
    phase = invoke("dose", "maribavir", "--phase", "induction", *ADULT)
    assert phase.exit_code == 2 and "--phase" in phase.stderr


def test_dose_without_creatinine_shows_no_dose_and_exits_2() -> None:
    args = ["--weight", "70", "--age", "50", "--sex", "male"]
    result = invoke("dose", "ganciclovir", "--phase", "induction", *args)
    assert result.exit_code == 2
    assert "NO DOSE" in flat(result.stdout)
    assert "serum creatinine" in result.stderr
    assert "practical mg" in result.stdout  # the column heading, with no value under it
    assert not re.search(r"\d+ mg(?!/)", result.stdout.split("Ganciclovir —")[0])


def test_dose_on_crrt_has_no_label_dose_exit_3() -> None:
    result = invoke("dose", "ganciclovir", "--phase", "induction", *ADULT, "--dialysis", "crrt")
    assert result.exit_code == 3
    assert "NO LABEL DOSE" in flat(result.stdout)


# --------------------------------------------------------------------------- knowledge


def test_knowledge_check() -> None:
    k = cmvrx.load_knowledge()
    result = invoke("knowledge", "check")
    assert result.exit_code == 0, result.output
    assert k.version in result.stdout and k.content_hash in result.stdout
    assert "schedules" in result.stdout
    data = json.loads(invoke("knowledge", "check", "--json").stdout)
    assert data["knowledge_hash"] == k.content_hash
    assert data["counts"]["schedules"] == len(k.schedules)


def test_knowledge_check_fails_with_exit_4(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(drug: str | None = None) -> dict[str, Any]:
        raise cmvrx.KnowledgeError("foscarnet.toml: schedule.band[2]: gap between 0.5 and 0.6")

    monkeypatch.setattr(cli.api, "knowledge_summary", broken)
    result = invoke("knowledge", "check")
    assert result.exit_code == 4
    assert "foscarnet.toml" in result.stderr and "Traceback" not in result.output


def test_knowledge_show_a_drug_row_by_row_with_sources() -> None:
    result = invoke("knowledge", "show", "foscarnet")
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    for band in ("> 1.4 mL/min/kg", "> 1 and ≤ 1.4 mL/min/kg", "< 0.4 mL/min/kg"):
        assert band in text
    assert "not recommended" in text
    assert "S-FOS-MEDLIB6" in text
    data = json.loads(invoke("knowledge", "show", "foscarnet", "--json").stdout)
    assert data == json.loads(json.dumps(cmvrx.knowledge_summary("foscarnet")))


def test_knowledge_show_all_and_unknown_drug() -> None:
    assert invoke("knowledge", "show").exit_code == 0
    unknown = invoke("knowledge", "show", "acyclovir")
    assert unknown.exit_code == 2 and "acyclovir" in unknown.stderr


# --------------------------------------------------------------------------- schema, version


def test_schema_is_valid_and_the_examples_validate() -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    validator.validate(yaml.safe_load(EXAMPLE.read_text()))
    validator.validate(json.loads(HD_EXAMPLE.read_text()))
    assert list(validator.iter_errors({"case_id": "x"}))


def test_version() -> None:
    result = invoke("version")
    assert result.exit_code == 0
    assert cmvrx.__version__ in result.stdout
    assert cmvrx.load_knowledge().content_hash in result.stdout


# --------------------------------------------------------------------------- error map


def test_unexpected_error_is_exit_70_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something broke\nover two lines")

    monkeypatch.delenv("CMVRX_DEBUG", raising=False)
    monkeypatch.setattr(cli.api, "plan", boom)
    result = invoke("plan", str(EXAMPLE))
    assert result.exit_code == 70
    assert "Traceback" not in result.output
    first = result.stderr.splitlines()[0]
    assert "internal error" in first and "something broke over two lines" in first


def test_exit_code_map() -> None:
    assert exit_code_for(cmvrx.UnitError("x"))[0] == 2
    assert exit_code_for(cmvrx.ContradictoryInputError("x"))[0] == 2
    assert exit_code_for(cmvrx.InsufficientDataError("x", measure="y"))[0] == 2
    assert exit_code_for(cmvrx.NotRecommendedError("x", rule_id="R"))[0] == 3
    assert exit_code_for(cmvrx.KnowledgeError("x"))[0] == 4
    assert exit_code_for(cmvrx.CmvrxError("x"))[0] == 1
    assert exit_code_for(ZeroDivisionError())[0] == 70


# --------------------------------------------------------------------------- help and docs


def _commands() -> list[tuple[tuple[str, ...], bool]]:
    """Every command path with whether it is a group, e.g. (('knowledge', 'show'), False)."""
    found: list[tuple[tuple[str, ...], bool]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found.append((path, hasattr(command, "commands")))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(get_command(app), ())
    return found


def test_every_command_has_help_with_an_example_and_is_documented() -> None:
    """Leaf commands (and the top level) show an example; every command is in docs/cli.md."""
    docs = (ROOT / "docs" / "cli.md").read_text()
    commands = _commands()
    paths = [path for path, _ in commands]
    assert {("plan",), ("dose",), ("knowledge", "show"), ("schema",), ("course",)} <= set(paths)
    for path, is_group in commands:
        result = invoke(*path, "--help")
        assert result.exit_code == 0, path
        name = " ".join(("cmvrx", *path))
        if not is_group or not path:
            assert "Example: cmvrx" in result.stdout, f"{name} --help has no example"
        if path:
            assert f"`{name}" in docs, f"{name} is not in docs/cli.md"


def test_plan_help_shows_an_example() -> None:
    result = invoke("plan", "--help")
    assert "Example: cmvrx plan examples/cns-encephalitis-hiv.yaml" in result.stdout


# --------------------------------------------------------------------------- real processes


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("CMVRX_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "cmvrx", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env, check=False,
    )  # fmt: skip


def test_subprocess_plan_json_and_human() -> None:
    as_json = _run("plan", str(EXAMPLE), "--json", "--as-of", AS_OF)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == cmvrx.plan(EXAMPLE, as_of=AS_OF_DT).to_dict()
    human = _run("plan", str(EXAMPLE), "--as-of", AS_OF, "--full")
    assert human.returncode == 0, human.stderr
    assert "Induction doses" in human.stdout and "Traceback" not in human.stderr


def test_subprocess_user_error_is_one_line_without_traceback() -> None:
    result = _run("dose", "ganciclovir", "--phase", "induction", "--sex", "male",
                  "--weight", "-5", "--creatinine", "1", "--age", "50")  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert "--weight" in result.stderr and "Traceback" not in result.stderr


def _console_script() -> str:
    """The installed ``cmvrx`` script: beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "cmvrx"
    found = str(beside) if beside.exists() else shutil.which("cmvrx")
    assert found, "the cmvrx console script is not installed (pip install -e .)"
    return found


def test_console_script() -> None:
    result = subprocess.run(
        [_console_script(), "version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith(f"cmvrx {cmvrx.__version__}")


def test_plan_json_doc_names_every_field() -> None:
    import dataclasses

    from cmvrx.model import plan as p

    doc = (ROOT / "docs" / "plan-json.md").read_text()
    classes = (p.Plan, p.Provenance, p.RenalFunction, p.Regimen, p.DrugDose, p.StepDown)
    classes += (p.Refused, p.Maintenance, p.Criterion, p.MonitoringItem, p.Alert, p.NotConfirmed)
    for cls in classes:
        for field in dataclasses.fields(cls):
            assert f"`{field.name}`" in doc, f"{cls.__name__}.{field.name} not in plan-json.md"
