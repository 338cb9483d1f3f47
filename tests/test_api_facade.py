"""The façade's use cases beyond plan/dose: provenance stamp, chart data as series, and
courses against a store (create, append, assess-and-record, list) — what every interface
calls instead of the store or the engine."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

import cmvrx
from cmvrx import api

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "examples" / "course-cns.yaml"
AS_OF = datetime(2026, 12, 15, 12, tzinfo=UTC)


def test_provenance_stamp() -> None:
    stamp = api.provenance(AS_OF)
    k = cmvrx.load_knowledge()
    assert stamp["knowledge_hash"] == k.content_hash
    assert stamp["cmvrx_version"] == cmvrx.__version__
    assert stamp["as_of"] == AS_OF.isoformat() and "prescriber" in stamp["disclaimer"]


def test_dose_document_has_dosage_and_provenance() -> None:
    result = cmvrx.dose(
        "ganciclovir", phase="induction", as_of=AS_OF, weight_kg=70, age_years=50,
        sex="male", creatinine=0.8,
    )  # fmt: skip
    doc = api.dose_document(result, as_of=AS_OF)
    assert "administration" not in doc["dose"]
    assert doc["dose"]["dosage"]["interval_hours"] == 12
    assert doc["provenance"]["knowledge_version"]


def test_chart_series_without_matplotlib() -> None:
    data = cmvrx.api.chart_series(COURSE, as_of=AS_OF)
    assert data["viral_load"]["points"] and data["therapy"]
    assert data["anc"]["threshold"] == cmvrx.load_knowledge().number("ganciclovir_min_anc")
    for key in ("anc", "platelets", "crcl"):
        for point in data[key]["points"]:
            assert isinstance(point["at"], str) and point["value"] > 0
    import subprocess

    code = (
        "import sys; from datetime import UTC, datetime; import cmvrx; "
        f"cmvrx.api.chart_series({str(COURSE)!r}, as_of=datetime(2026, 12, 15, tzinfo=UTC)); "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_stored_course_use_cases(tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    db = str(tmp_path / "courses.sqlite")
    doc = yaml.safe_load(COURSE.read_text())
    course_id, baseline, seqs = api.import_course(doc, store=db)
    assert course_id == doc["course_id"] and len(seqs) == len(doc["events"])
    extra = {"kind": "note", "at": "2026-12-15T09:00:00Z", "text": "MRI stable"}
    assert len(api.append_events(course_id, extra, store=db)) == 1
    result, assessment_id = api.assess_and_record(course_id, as_of=AS_OF, store=db)
    assert assessment_id >= 1 and result.provenance.as_of == AS_OF
    course, assessed = api.get_course(course_id, store=db)
    assert len(course.events) == len(doc["events"]) + 1 and len(assessed) == 1
    assert [c.course_id for c in api.list_courses(store=db)] == [course_id]
    with pytest.raises(cmvrx.InputError):
        api.create_course(course_id, baseline, store=db)
