"""Order vignettes as data: every ``tests/order_cases/*.yaml`` (not starting with ``_``)
is one patient, one or more proposed orders, and what a clinician expects the order check
to say, worked out by hand from the label tables (clinical-reference.md; the
``arithmetic`` line of each file).

A vignette: ``description``; ``as_of``; the patient — ``patient: <name>`` from
``_patients.yaml`` (with optional ``changes: {dotted.path: value}``) or ``case_from: <stem
of a tests/cases vignette>``; ``orders`` (order documents, docs/order-check.md);
``expect``:

``verdict``            the top-level verdict;
``rules``              rule ids that must be among the findings; ``absent_rules`` must not;
``corrected``          keys of the top-level ``corrected`` dosage (numbers to 0.1);
``assumed_phase`` / ``assumed_column``  of the first order;
``order_id``           the first result's echoed order id;
``results``            per order: ``{verdict, rules}``;
``add``                drugs the set lacks (a CNS combination's partner).
"""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

import cmvrx

HERE = Path(__file__).parent
ORDER_DIR = HERE / "order_cases"
VIGNETTES = sorted(p for p in ORDER_DIR.glob("*.yaml") if not p.name.startswith("_"))
PATIENTS: dict[str, Any] = yaml.safe_load((ORDER_DIR / "_patients.yaml").read_text())


def case_of(v: dict[str, Any]) -> dict[str, Any]:
    if "case_from" in v:
        case: dict[str, Any] = yaml.safe_load(
            (HERE / "cases" / f"{v['case_from']}.yaml").read_text()
        )["case"]
    else:
        case = copy.deepcopy(PATIENTS[v["patient"]])
    for path, value in (v.get("changes") or {}).items():
        *parents, last = path.split(".")
        node = case
        for key in parents:
            node = node[key]
        node[last] = value
    return case


def run(v: dict[str, Any]) -> dict[str, Any]:
    as_of = datetime.fromisoformat(v["as_of"].replace("Z", "+00:00"))
    return cmvrx.check_order(case_of(v), v["orders"], as_of=as_of).to_dict()


def test_there_are_at_least_40_order_vignettes() -> None:
    assert len(VIGNETTES) >= 40


@pytest.mark.parametrize("path", VIGNETTES, ids=[p.stem for p in VIGNETTES])
def test_order_vignette(path: Path) -> None:
    v = yaml.safe_load(path.read_text())
    expect = v["expect"]
    got = run(v)
    rules = {f["rule_id"] for f in got["findings"]}
    why = [(f["rule_id"], f["message"]) for f in got["findings"]]
    assert got["verdict"] == expect["verdict"], why
    assert set(expect.get("rules", ())) <= rules, why
    assert not set(expect.get("absent_rules", ())) & rules, why
    first = got["results"][0]
    for key in ("assumed_phase", "assumed_column"):
        if key in expect:
            assert first[key] == expect[key], why
    if "order_id" in expect:
        assert first["order_id"] == expect["order_id"]
    if "corrected" in expect:
        corrected = got["corrected"]
        assert corrected is not None, why
        for key, value in expect["corrected"].items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                assert corrected[key] == pytest.approx(value, abs=0.05), (key, corrected)
            else:
                assert corrected[key] == value, (key, corrected)
    if expect["verdict"] != "adjust":
        assert got["corrected"] is None
    for want, result in zip(expect.get("results", ()), got["results"], strict=False):
        assert result["verdict"] == want["verdict"], result["findings"]
        assert set(want.get("rules", ())) <= {f["rule_id"] for f in result["findings"]}
    if "add" in expect:
        assert [d["drug"] for d in got["add"]] == expect["add"]
    for finding in got["findings"]:
        assert finding["citations"], finding
        assert finding["severity"] in ("info", "warning", "critical")
    assert got["knowledge_version"] and got["disclaimer"]
