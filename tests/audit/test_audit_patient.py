"""``patient.review_lines`` reads a plain resource line directly: the same review as
through ``collect`` (bundles, lists, prefetch dicts and junk still go through it)."""

from __future__ import annotations

import json

import pytest
from vignette_support import VIGNETTES, load

import cmvrx.api as api
import cmvrx.audit.patient as patient


def _lines() -> list[tuple[str, str]]:
    resources, _, _ = load(next(p for p in VIGNETTES if p.name.startswith("02_")))
    lines = [json.dumps(r) for r in resources]
    lines += [
        json.dumps({"resourceType": "Bundle", "entry": [{"resource": resources[0]}]}),
        json.dumps([resources[1]]),
        json.dumps({"resourceType": "Observation", "id": 7}),
        json.dumps({"resourceType": "", "id": "x"}),
        json.dumps({"resourceType": "Observation"}),
        json.dumps({"prefetch": resources[0]}),
        "3",
        "{not json",
    ]
    return [(f"f.ndjson:{i}", line) for i, line in enumerate(lines, start=1)]


def test_plain_lines_read_as_collect_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    _, as_of, _ = load(VIGNETTES[0])
    k = api.load_knowledge()
    fast = patient.review_lines(_lines(), as_of=as_of, knowledge=k)
    monkeypatch.setattr(patient, "_plain_resource", lambda _: False)
    slow = patient.review_lines(_lines(), as_of=as_of, knowledge=k)
    assert fast.to_dict() == slow.to_dict()
    assert fast.findings and fast.problems
