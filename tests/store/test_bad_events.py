"""Issue 6 item 7: one bad lab must not break a course.

Events are checked with the case rules (unit, plausibility) before they are stored; a
bad event already in a database (written by an older cmvrx) is ignored and reported by
``course assess`` and ``course chart`` (never exit 2/70); any event can be marked
entered in error (appended, never deleted) and then the corrected value is used.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, insert
from typer.testing import CliRunner

from cmvrx.cli.main import app
from cmvrx.errors import InputError
from cmvrx.model.patient import Case
from cmvrx.store import CourseStore, open_store
from cmvrx.store.tables import events as events_table

EXAMPLE_CASE = Path(__file__).parents[2] / "examples" / "cns-encephalitis-hiv.yaml"

AS_OF = "2026-11-27T12:00:00Z"


def cmvrx(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=stdin)


def _ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def _lab(value: float, unit: str, at: str = "2026-11-26T06:00:00Z") -> dict[str, Any]:
    return {"kind": "lab", "at": at, "analyte": "creatinine", "value": value, "unit": unit}


@pytest.mark.parametrize(
    ("value", "unit", "field", "message"),
    [
        (5, "furlongs", "events[1].unit", "unit 'furlongs' is not accepted"),
        (50, "mg/dL", "events[1].value", "outside the plausible range 0.1–25 mg/dL"),
        (1.3, "µmol/L", "events[1].value", "outside the plausible range 0.1–25 mg/dL"),
        (0, "mg/dL", "events[1].value", "must be above zero"),
    ],
)
def test_an_impossible_lab_is_refused_naming_the_field_and_nothing_is_stored(
    store: CourseStore, baseline: Case, value: float, unit: str, field: str, message: str
) -> None:
    store.create_course("c", baseline)
    fine = {"kind": "note", "at": "2026-11-25T08:00:00Z", "text": "fine"}
    with pytest.raises(InputError, match=message) as caught:
        store.add_events("c", [fine, _lab(value, unit)])
    assert caught.value.field == field
    assert store.get_course("c").events == []


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"kind": "weight", "at": "2026-11-25T08:00:00Z", "value": 70, "unit": "stone"},
         "events[0].unit"),
        ({"kind": "weight", "at": "2026-11-25T08:00:00Z", "value": 700, "unit": "kg"},
         "events[0].value"),
        ({"kind": "lab", "at": "2026-11-25T08:00:00Z", "analyte": "anc", "value": 900},
         "events[0].unit"),
        ({"kind": "lab", "at": "2026-11-25T08:00:00Z", "analyte": "cd4"}, "events[0].value"),
        ({"kind": "cmv_pcr", "at": "2026-11-25T08:00:00Z", "result": "detected", "value": 9,
          "unit": "furlongs", "lower_limit": 35}, "events[0].unit"),
    ],
)  # fmt: skip
def test_every_measured_event_kind_is_checked(
    store: CourseStore, baseline: Case, event: dict[str, Any], field: str
) -> None:
    store.create_course("c", baseline)
    with pytest.raises(InputError) as caught:
        store.add_events("c", [event])
    assert caught.value.field == field


def test_cli_refuses_5_furlongs_with_exit_2(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite")
    _ok(cmvrx("course", "new", "c", "--case", str(EXAMPLE_CASE), "--db", db))
    event = json.dumps(_lab(5, "furlongs"))
    result = cmvrx("course", "add", "c", "-", "--db", db, stdin=event)
    assert result.exit_code == 2, result.output
    assert "event.unit" in result.output and "furlongs" in result.output
    assert "No events recorded yet." in _ok(cmvrx("course", "show", "c", "--db", db))


def _store_behind_the_models_back(db: str, course_id: str, seq: int, event: dict[str, Any]) -> None:
    """What a database written by an older cmvrx may hold: a row the rules now refuse."""
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(
            insert(events_table).values(
                course_id=course_id,
                seq=seq,
                at=datetime.fromisoformat(event["at"]),
                kind=event["kind"],
                payload=json.dumps(event),
                recorded_at=datetime(2026, 11, 26, 7, tzinfo=UTC),
            )
        )
    engine.dispose()


def test_a_stored_bad_event_never_breaks_assess_or_chart_and_can_be_corrected(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "c.sqlite")
    _ok(cmvrx("course", "new", "c", "--case", str(EXAMPLE_CASE), "--db", db))
    plan = {"kind": "plan_started", "at": "2026-11-24T10:00:00Z",
            "regimen_id": "ganciclovir_plus_foscarnet",
            "orders": [{"drug": "ganciclovir", "dose_mg": 320, "interval": "q12h"}]}  # fmt: skip
    _ok(cmvrx("course", "add", "c", "-", "--db", db, stdin=json.dumps(plan)))
    _store_behind_the_models_back(db, "c", 2, _lab(5, "furlongs"))

    assessed = cmvrx("course", "assess", "c", "--as-of", AS_OF, "--json", "--db", db)
    document = json.loads(_ok(assessed))
    assert "CRS-DATA-EVENT-INVALID" in [f["rule_id"] for f in document["findings"]]
    assert [(s["seq"], s["status"]) for s in document["set_aside"]] == [(2, "invalid")]
    png = tmp_path / "c.png"
    _ok(cmvrx("course", "chart", "c", "--as-of", AS_OF, "--png", str(png), "--db", db))
    assert png.stat().st_size > 0

    retracted = _ok(cmvrx("course", "retract", "c", "2", "--reason", "unit typed wrong",
                          "--at", "2026-11-26T09:00:00Z", "--db", db))  # fmt: skip
    assert "seq 2 marked entered in error in c (seq 3)" in retracted
    corrected = json.dumps(_lab(1.1, "mg/dL"))
    _ok(cmvrx("course", "add", "c", "-", "--db", db, stdin=corrected))

    document = json.loads(
        _ok(cmvrx("course", "assess", "c", "--as-of", AS_OF, "--json", "--db", db))
    )
    rules = [f["rule_id"] for f in document["findings"]]
    assert "CRS-DATA-EVENT-INVALID" not in rules
    assert "CRS-DATA-ENTERED-IN-ERROR" in rules
    assert document["state"]["serum_creatinine_mg_dl"]["value"] == 1.1
    _ok(cmvrx("course", "chart", "c", "--as-of", AS_OF, "--png", str(png), "--db", db))
    shown = _ok(cmvrx("course", "show", "c", "--db", db))
    assert "entered in error" in shown  # the history is kept
    store = open_store(db)
    try:
        assert [e.kind for e in store.get_course("c").events] == [
            "plan_started", "lab", "entered_in_error", "lab",
        ]  # fmt: skip
    finally:
        store.close()


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ({"kind": "entered_in_error", "ref_seq": 9, "reason": "x"}, "not an earlier event"),
        ({"kind": "entered_in_error", "ref_seq": 3, "reason": "x"}, "refer to the event it names"),
        ({"kind": "measurement_confirmed", "ref_seq": 1}, "only a weight or a lab"),
        ({"kind": "entered_in_error", "ref_seq": 0, "reason": "x"}, "greater than or equal to 1"),
        ({"kind": "entered_in_error", "ref_seq": True, "reason": "x"}, "valid integer"),
    ],
)
def test_a_reference_must_name_an_earlier_event_it_may_refer_to(
    store: CourseStore, baseline: Case, reference: dict[str, Any], message: str
) -> None:
    store.create_course("c", baseline, events=[
        {"kind": "note", "at": "2026-11-25T08:00:00Z", "text": "a"},
        {"kind": "weight", "at": "2026-11-25T08:00:00Z", "value": 63, "unit": "kg"},
        {"kind": "entered_in_error", "at": "2026-11-25T09:00:00Z", "ref_seq": 1, "reason": "r"},
    ])  # fmt: skip
    with pytest.raises(InputError, match=message) as caught:
        store.add_events("c", [{**reference, "at": "2026-11-26T08:00:00Z"}])
    assert caught.value.field == "events[0].ref_seq"
    assert len(store.get_course("c").events) == 3


def test_a_reference_may_name_an_earlier_event_of_the_same_batch(
    store: CourseStore, baseline: Case
) -> None:
    store.create_course("c", baseline, events=[
        {"kind": "note", "at": "2026-11-25T08:00:00Z", "text": "a"}])  # fmt: skip
    seqs = store.add_events("c", [
        {"kind": "weight", "at": "2026-11-25T08:00:00Z", "value": 40, "unit": "kg"},
        {"kind": "measurement_confirmed", "at": "2026-11-25T09:00:00Z", "ref_seq": 2},
    ])  # fmt: skip
    assert seqs == [2, 3]
    with pytest.raises(InputError, match="not an earlier event"):
        store.add_events("c", [
            {"kind": "entered_in_error", "at": "2026-11-26T09:00:00Z", "ref_seq": 5,
             "reason": "forward"},
            {"kind": "note", "at": "2026-11-26T08:00:00Z", "text": "b"},
        ])  # fmt: skip


def test_a_held_weight_is_reported_and_confirmed_from_the_cli(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite")
    _ok(cmvrx("course", "new", "c", "--case", str(EXAMPLE_CASE), "--db", db))
    weight = {"kind": "weight", "at": "2026-11-25T07:00:00Z", "value": 44, "unit": "kg"}
    added = _ok(cmvrx("course", "add", "c", "-", "--db", db, stdin=yaml.safe_dump(weight)))
    assert "seq 1 (weight 44 kg) entered, HELD for review" in added
    assert "cmvrx course confirm c 1" in added
    held = json.loads(_ok(cmvrx("course", "assess", "c", "--as-of", AS_OF, "--json", "--db", db)))
    assert [(s["seq"], s["status"]) for s in held["set_aside"]] == [(1, "held")]
    assert held["state"]["weight_kg"] == 64  # the example's baseline weight, not 44
    _ok(cmvrx("course", "confirm", "c", "1", "--note", "re-weighed after dialysis",
              "--at", "2026-11-26T08:00:00Z", "--db", db))  # fmt: skip
    used = json.loads(_ok(cmvrx("course", "assess", "c", "--as-of", AS_OF, "--json", "--db", db)))
    assert used["set_aside"] == []
    assert used["state"]["weight_kg"] == 44


def test_a_confirmed_impossible_weight_is_still_set_aside(tmp_path: Path) -> None:
    """Confirmation cannot make 6.3 kg possible for a 175 cm adult (the body-size rule of
    a case): the assessment sets it aside as invalid and keeps working."""
    db = str(tmp_path / "c.sqlite")
    _ok(cmvrx("course", "new", "c", "--case", str(EXAMPLE_CASE), "--db", db))
    weight = {"kind": "weight", "at": "2026-11-25T07:00:00Z", "value": 6.3, "unit": "kg"}
    _ok(cmvrx("course", "add", "c", "-", "--db", db, stdin=yaml.safe_dump(weight)))
    _ok(cmvrx("course", "confirm", "c", "1", "--at", "2026-11-26T08:00:00Z", "--db", db))
    used = json.loads(_ok(cmvrx("course", "assess", "c", "--as-of", AS_OF, "--json", "--db", db)))
    assert [(s["seq"], s["status"]) for s in used["set_aside"]] == [(1, "invalid")]
    assert "BMI" in used["set_aside"][0]["reason"]
    assert used["state"]["weight_kg"] == 64
