"""Course vignettes as data: tests/course_cases/*.yaml (course + as_of + expected findings).

Each vignette's expected values were computed by hand from the label tables (the
arithmetic is in the YAML comments). Every vignette is also assessed with its events
shuffled and reversed (the same result, whatever the arrival order) and with extra
events after ``as_of`` (ignored).
"""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import cmvrx
from cmvrx.model.course import REFERENCE_KINDS, Course

CASES = sorted((Path(__file__).parent / "course_cases").glob("*.yaml"))
K = cmvrx.load_knowledge()


def _load(path: Path) -> tuple[dict[str, Any], Course, datetime]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data, cmvrx.load_course(data["course"]), datetime.fromisoformat(data["as_of"])


def test_there_are_enough_vignettes() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_vignette(path: Path) -> None:
    data, course, as_of = _load(path)
    a = cmvrx.assess_course(course, as_of=as_of)
    expect = data["expect"]
    got = sorted(a.rule_ids())
    assert got == sorted(expect.get("findings", [])), [f.message for f in a.findings]
    for text in expect.get("messages", []):
        assert any(text in f.message for f in a.findings), (text, [f.message for f in a.findings])
    if "phase" in expect:
        assert a.phase.phase == expect["phase"]
    if "phase_text" in expect:
        assert a.phase.text == expect["phase_text"]
    if "events_after_as_of" in expect:
        assert a.events_after_as_of == expect["events_after_as_of"]
    _check_renal(a, expect.get("renal", {}))
    _check_orders(a, expect.get("orders", {}))
    for rule_id, status in expect.get("tests", {}).items():
        assert {t.rule_id: t.status for t in a.tests}.get(rule_id) == status, rule_id
    _check_section(a.response, expect.get("response", {}))
    _check_section(a.end_of_induction, expect.get("end_of_induction", {}))
    _check_step_down(a, expect.get("step_down", {}))
    _check_maintenance(a, expect.get("maintenance", {}))
    _check_provenance(a, as_of)


def _check_renal(a: Any, expect: dict[str, Any]) -> None:
    if "crcl" in expect:
        assert a.renal.creatinine_clearance_ml_min == pytest.approx(expect["crcl"], abs=0.05)
    if "per_kg" in expect:
        assert a.renal.clearance_per_kg_ml_min_kg == pytest.approx(expect["per_kg"], abs=0.0005)


def _check_orders(a: Any, expect: dict[str, Any]) -> None:
    checks = {o.ordered.drug: o for o in a.orders}
    for drug, want in expect.items():
        o = checks[drug]
        assert o.verdict == want["verdict"], (drug, o.verdict, o.reason)
        if "practical_mg" in want:
            assert o.recommended.practical_mg == pytest.approx(want["practical_mg"])
        if "interval" in want:
            assert o.recommended.interval == want["interval"]
        if "direction" in want:
            assert o.direction == want["direction"]
        if "reason" in want:
            assert want["reason"] in o.reason, o.reason


def _check_section(section: Any, expect: dict[str, Any]) -> None:
    for key, want in expect.items():
        value = getattr(section, key)
        if isinstance(want, float):
            assert value == pytest.approx(want, abs=0.005), key
        elif isinstance(want, list):
            assert list(value) == want, key
        else:
            assert value == want, key


def _check_step_down(a: Any, expect: dict[str, Any]) -> None:
    s = a.step_down
    for key in ("applicable", "eligible"):
        if key in expect:
            assert getattr(s, key) == expect[key], (key, s.unmet)
    if "dose_mg" in expect:
        assert s.dose.practical_mg == pytest.approx(expect["dose_mg"])
        assert s.dose.interval == expect["interval"]
    for text in expect.get("unmet", []):
        assert any(text in u for u in s.unmet), (text, s.unmet)


def _check_maintenance(a: Any, expect: dict[str, Any]) -> None:
    m = a.maintenance
    for key in ("applicable", "stop_eligible", "restart", "lifelong"):
        if key in expect:
            assert getattr(m, key) == expect[key], (key, m.stop_unmet)
    if "options" in expect:
        got = {d.drug: (d.practical_mg, d.interval) for d in m.options if d.status == "dose"}
        for drug, (mg, interval) in expect["options"].items():
            assert got[drug] == (pytest.approx(mg), interval), drug


def _check_provenance(a: Any, as_of: datetime) -> None:
    assert a.provenance.as_of == as_of
    assert a.provenance.knowledge_hash == K.content_hash
    assert a.provenance.disclaimer == cmvrx.DISCLAIMER
    course_rules = {r.id for r in K.course.rule}
    for f in a.findings:
        assert f.rule_id in course_rules
        assert f.cite and all(c in K.sources for c in f.cite), f.rule_id
        assert f.cite and all(c in a.sources for c in f.cite)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_arrival_order_does_not_matter(path: Path) -> None:
    _, course, as_of = _load(path)
    reference = cmvrx.assess_course(course, as_of=as_of).to_dict()
    orders = [list(reversed(course.events))]
    for seed in (1, 2, 3):
        shuffled = list(course.events)
        random.Random(seed).shuffle(shuffled)
        orders.append(shuffled)
    for events in orders:
        again, renumber = _rerecorded(course, events)
        assert _by_event(cmvrx.assess_course(again, as_of=as_of).to_dict()) == _by_event(
            reference, renumber
        )


def _rerecorded(course: Course, events: list[Any]) -> tuple[Course, dict[int, int]]:
    """The course as if its events had been recorded in this order: references
    (``ref_seq``) still come after what they name and are renumbered to follow it."""
    plain = [e for e in events if e.kind not in REFERENCE_KINDS]
    refs = [e for e in events if e.kind in REFERENCE_KINDS]
    position = {id(e): i + 1 for i, e in enumerate(course.events)}
    recorded = [*plain, *refs]
    renumber = {position[id(e)]: i + 1 for i, e in enumerate(recorded)}
    recorded = [
        e.model_copy(update={"ref_seq": renumber[e.ref_seq]}) if e.kind in REFERENCE_KINDS else e
        for e in recorded
    ]
    return course.model_copy(update={"events": recorded}), renumber


def _by_event(result: dict[str, Any], renumber: dict[int, int] | None = None) -> str:
    """The assessment as JSON text with seq numbers (which name the recording order, not
    the clinical one) renumbered and the set-aside list in a stable order."""
    result = {
        **result,
        "set_aside": sorted(result["set_aside"], key=lambda s: (s["at"], s["what"])),
    }
    text = json.dumps(result, sort_keys=True)
    if not renumber:
        return text
    return re.sub(
        r'(seq |"seq": |(?:confirm|retract) \S+ )(\d+)',
        lambda m: f"{m[1]}{renumber[int(m[2])]}",
        text,
    )


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_events_after_as_of_are_ignored(path: Path) -> None:
    _, course, as_of = _load(path)
    reference = cmvrx.assess_course(course, as_of=as_of).to_dict()
    later = as_of + timedelta(hours=1)
    late = [
        {
            "kind": "lab",
            "at": later.isoformat(),
            "analyte": "creatinine",
            "value": 9.0,
            "unit": "mg/dL",
        },
        {
            "kind": "lab",
            "at": later.isoformat(),
            "analyte": "anc",
            "value": 100,
            "unit": "cells/uL",
        },
        {
            "kind": "cmv_pcr",
            "at": later.isoformat(),
            "result": "detected",
            "value": 9e6,
            "lower_limit": 35,
        },
        {"kind": "regimen_changed", "at": later.isoformat(), "phase": "stopped", "orders": []},
    ]
    data = course.model_dump(mode="json")
    data["events"] = [*data["events"], *late]
    result = cmvrx.assess_course(data, as_of=as_of).to_dict()
    assert result.pop("events_after_as_of") == reference.pop("events_after_as_of") + len(late)
    assert result == reference


def test_naive_as_of_is_refused() -> None:
    _, course, as_of = _load(CASES[0])
    with pytest.raises(cmvrx.InputError, match="as_of"):
        cmvrx.assess_course(course, as_of=as_of.replace(tzinfo=None))


def test_load_course_reads_yaml_and_json_files(tmp_path: Path) -> None:
    data, course, _ = _load(CASES[0])
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(yaml.safe_dump(data["course"]), encoding="utf-8")
    json_file = tmp_path / "c.json"
    json_file.write_text(course.model_dump_json(), encoding="utf-8")
    assert cmvrx.load_course(yaml_file) == course
    assert cmvrx.load_course(str(json_file)) == course
    with pytest.raises(cmvrx.InputError, match="events"):
        cmvrx.load_course(
            {"course_id": "x", "baseline": data["course"]["baseline"], "events": [{"kind": "nope"}]}
        )


def test_every_course_rule_is_raised_by_some_vignette() -> None:
    raised: set[str] = set()
    for path in CASES:
        _, course, as_of = _load(path)
        raised |= set(cmvrx.assess_course(course, as_of=as_of).rule_ids())
    assert {r.id for r in K.course.rule} - raised == set()


def test_to_dict_is_json_ready() -> None:
    import json

    _, course, as_of = _load(CASES[0])
    d = cmvrx.assess_course(course, as_of=as_of).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["provenance"]["knowledge_version"] == K.version
