"""Each vignette's record reviewed by ``api.review_record``: exactly the expected
(order_id, kind) set, every finding cited and stamped, never a dose without a finding
that corrects one."""

from __future__ import annotations

from pathlib import Path

import pytest
from vignette_support import VIGNETTES, load

import cmvrx.api as api
from cmvrx.audit.columns import FINDING_COLUMNS
from cmvrx.audit.kinds import KINDS


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_vignette(path: Path) -> None:
    resources, as_of, expect = load(path)
    review = api.review_record(resources, as_of=as_of, no_dialysis_unless_recorded=True)
    found = {(f.order_id, f.kind) for f in review.findings}
    assert found == expect, [f.to_dict() for f in review.findings]
    for f in review.findings:
        row = f.to_row()
        assert tuple(row) == FINDING_COLUMNS
        assert f.kind in KINDS
        assert f.rule_id and f.summary and row["as_of"] and row["knowledge_version"]
        if f.kind not in ("insufficient_data",):
            assert f.citations
        if f.kind in ("insufficient_data", "not_recommended"):
            assert f.corrected_dose is None
