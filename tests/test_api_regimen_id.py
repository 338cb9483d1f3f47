"""``api.regimen_id`` (facts → situation → first rule) names the regimen the
whole plan names, or fails where the plan fails, on every plan vignette."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

import cmvrx
from cmvrx.api import load_case, load_knowledge, regimen_id
from cmvrx.errors import CmvrxError

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
K = load_knowledge()


def test_there_are_cases() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_regimen_id_is_the_plans(path: Path) -> None:
    v = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw = v["as_of"]
    as_of = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    try:
        case = load_case(v["case"])
    except CmvrxError:
        return  # refused before any plan: nothing to compare
    try:
        want: object = cmvrx.plan(case, as_of=as_of, knowledge=K).regimen.regimen_id
    except CmvrxError as exc:
        want = type(exc)
    try:
        got: object = regimen_id(case, as_of=as_of, knowledge=K)
    except CmvrxError as exc:
        got = type(exc)
    assert got == want
