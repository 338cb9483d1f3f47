"""The course chart for the page: the existing chart (``cmvrx.api.chart_course``) drawn
to SVG and inlined as a ``data:`` image (no extra request, no patient data in a URL; the
SVG's own styles stay inside the image, so the page's CSP needs no inline styles)."""

from __future__ import annotations

import base64
import tempfile
from datetime import datetime
from pathlib import Path

from cmvrx import api
from cmvrx.model.course import Course


def chart_data_uri(course: Course, as_of: datetime) -> str:
    with tempfile.TemporaryDirectory(prefix="cmvrx-chart-") as folder:
        target = Path(folder) / "chart.svg"
        api.chart_course(course, as_of=as_of, svg_path=target)
        svg = target.read_bytes()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
