"""The course chart: PNG and SVG are written and the SVG carries every series (by gid).

No pixel assertions: the SVG text is searched for the element ids the chart gives each
series, the axis labels and the title.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

import cmvrx

pytest.importorskip("matplotlib", reason="optional component missing: matplotlib (extra 'course')")

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "course_cases"


def test_chart_writes_png_and_svg_with_every_series(tmp_path: Path) -> None:
    course = cmvrx.load_course(ROOT / "examples" / "course-cns.yaml")
    png, svg = tmp_path / "c.png", tmp_path / "c.svg"
    as_of = datetime.fromisoformat("2026-12-15T12:00:00+00:00")
    written = cmvrx.chart_course(course, as_of=as_of, png_path=png, svg_path=svg)
    assert written == [png, svg]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg.read_text(encoding="utf-8")
    for gid in (
        "cmv_pcr_detected",
        "cmv_pcr_below_limit",
        "detection_limit",
        "anc",
        "platelets",
        "crcl",
        "therapy_0_0",
        "therapy_1_3",
        "anc_threshold",
        "as_of",
    ):
        assert f'id="{gid}' in text, gid
    for label in ("example-course-cns", "2026-12-15", "IU/mL", "ANC", "Platelets", "CrCl"):
        assert label in text, label
    assert "ganciclovir 320 mg q12h" in text


def test_not_detected_points_are_a_series_of_their_own(tmp_path: Path) -> None:
    import yaml

    data = yaml.safe_load((CASES / "16_cns_end_of_induction_met.yaml").read_text(encoding="utf-8"))
    course = cmvrx.load_course(data["course"])
    svg = tmp_path / "nd.svg"
    cmvrx.chart_course(course, as_of=datetime.fromisoformat(data["as_of"]), svg_path=svg)
    text = svg.read_text(encoding="utf-8")
    assert 'id="cmv_pcr_not_detected' in text
    assert 'id="cmv_pcr_detected' in text


def test_import_cmvrx_does_not_import_matplotlib() -> None:
    code = "import sys, cmvrx\nprint('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_course_chart_writes_both_files(tmp_path: Path) -> None:
    pytest.importorskip(
        "sqlalchemy", reason="optional component missing: sqlalchemy (extra 'course')"
    )
    db = str(tmp_path / "courses.sqlite")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cmvrx", "course", *args, "--db", db],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )

    assert run("import", "examples/course-cns.yaml").returncode == 0
    png, svg = tmp_path / "c.png", tmp_path / "c.svg"
    result = run(
        "chart",
        "example-course-cns",
        "--as-of",
        "2026-12-15T12:00Z",
        "--png",
        str(png),
        "--svg",
        str(svg),
    )
    assert result.returncode == 0, result.stderr
    assert png.stat().st_size > 0
    assert 'id="cmv_pcr_detected' in svg.read_text(encoding="utf-8")
