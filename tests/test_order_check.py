"""cmvrx.check_order: the order document, the JSON contract, the Hypothesis properties
(the plan's own doses check ok; every correction checks ok) and input errors."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import AS_OF, cases
from tests.test_order_vignettes import PATIENTS

import cmvrx
from cmvrx.model.dosage import Dosage, Interval, from_drug_dose
from cmvrx.model.plan import DrugDose

ADULT = PATIENTS["adult"]


def _plan_doses(plan: cmvrx.Plan) -> tuple[list[DrugDose], list[DrugDose]]:
    induction = [d for d in plan.regimen.induction if d.status == "dose"]
    others = [d for d in plan.maintenance.options if d.status == "dose"]
    step = plan.regimen.step_down
    if step is not None and step.dose is not None and step.dose.status == "dose":
        others.append(step.dose)
    return induction, others


def _orders(doses: list[DrugDose]) -> list[Dosage]:
    out = []
    for d in doses:
        dosage = from_drug_dose(d)
        assert dosage is not None
        out.append(replace(dosage, phase=None))
    return out


def _why(check: cmvrx.OrderCheck) -> list[tuple[str, str]]:
    return [(f.rule_id, f.message) for f in check.findings]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_the_plans_own_doses_check_ok(case: dict[str, Any]) -> None:
    plan = cmvrx.plan(case, as_of=AS_OF)
    induction, others = _plan_doses(plan)
    if induction:
        check = cmvrx.check_order(case, _orders(induction), as_of=AS_OF)
        assert check.verdict == "ok", _why(check)
    for order in _orders(others):
        check = cmvrx.check_order(case, order, as_of=AS_OF)
        assert check.verdict == "ok", (order.text, _why(check))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=cases(),
    data=st.data(),
    factor=st.sampled_from([0.02, 0.5, 0.8, 1.0, 1.3, 2.0, 3.0]),
    hours=st.sampled_from([None, 8.0, 12.0, 24.0, 48.0]),
)
def test_every_correction_checks_ok(
    case: dict[str, Any], data: st.DataObject, factor: float, hours: float | None
) -> None:
    plan = cmvrx.plan(case, as_of=AS_OF)
    induction, others = _plan_doses(plan)
    doses = induction + others
    if not doses:
        return
    order = data.draw(st.sampled_from(_orders(doses)))
    mg = order.per_dose_mg
    assert mg is not None
    wrong = replace(
        order,
        amount_mg=round(mg * factor, 1),
        amount_mg_per_kg=None,
        weight_kg=None,
        interval=order.interval if hours is None else Interval.every(hours),
    )
    check = cmvrx.check_order(case, wrong, as_of=AS_OF)
    if check.verdict != "adjust":
        return
    corrected = check.corrected
    assert corrected is not None and corrected.drug == wrong.drug
    assert corrected.route == wrong.route
    again = cmvrx.check_order(case, [corrected, *check.add], as_of=AS_OF)
    assert again.verdict == "ok", (wrong.text, corrected.text, _why(again))


def test_json_contract_keys() -> None:
    order = {"drug": "ganciclovir", "amount_mg": 500, "interval_hours": 12, "id": "rx-9"}
    d = cmvrx.check_order(ADULT, order, as_of=AS_OF).to_dict()
    assert d["verdict"] == "adjust"
    for key in ("drug", "route", "amount_mg", "amount_mg_per_kg", "interval_hours", "schedule"):
        assert key in d["corrected"]
    assert d["corrected"]["id"] == "rx-9"
    for key in ("findings", "results", "as_of", "knowledge_version", "knowledge_hash"):
        assert key in d
    assert "decision support" in d["disclaimer"]
    finding = d["findings"][0]
    assert set(finding) == {"severity", "rule_id", "message", "citations", "data_used", "order_id"}
    result = d["results"][0]
    for key in ("order_id", "order", "verdict", "findings", "corrected", "assumed_phase"):
        assert key in result
    assert "assumed_column" in result


def test_interval_equality_is_clinical() -> None:
    q12 = Interval.every(12)
    twice = Interval.parse_label("twice daily")
    assert twice is not None and q12 == twice and hash(q12) == hash(twice)
    assert Interval.parse_label("3 times weekly, after hemodialysis") != Interval.every(56)
    dose = Dosage("ganciclovir", "iv", q12, amount_mg_per_kg=5, weight_kg=70)
    assert dose.per_dose_mg == 350 and dose.per_day_mg == 700
    assert dose.same_as(Dosage("ganciclovir", "iv", twice, amount_mg=350))


def test_a_course_is_a_subject() -> None:
    from pathlib import Path

    course = Path(__file__).parent.parent / "examples" / "course-cns.yaml"
    check = cmvrx.check_order(
        course, {"drug": "ganciclovir", "amount_mg": 5, "interval_hours": 12}, as_of=AS_OF
    )
    assert check.verdict in ("adjust", "not_recommended", "insufficient_data")


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"amount_mg": 350, "interval_hours": 12}, "drug"),
        ({"drug": "ganciclovir", "interval_hours": 12}, "amount_mg"),
        (
            {"drug": "ganciclovir", "amount_mg": 350, "amount_mg_per_kg": 5, "interval_hours": 12},
            "amount_mg",
        ),
        ({"drug": "ganciclovir", "amount_mg": 350}, "interval_hours"),
        ({"drug": "ganciclovir", "amount_mg": -1, "interval_hours": 12}, "amount_mg"),
        ({"drug": "ganciclovir", "amount_mg": "a lot", "interval_hours": 12}, "amount_mg"),
        ({"drug": "ganciclovir", "amount_mg": 350, "schedule": "fortnightly-ish"}, "schedule"),
        ({"drug": "ganciclovir", "amount_mg": 350, "interval_hours": 12, "route": "im"}, "route"),
        ({"drug": "ganciclovir", "amount_mg": 350, "interval_hours": 12, "phase": "x"}, "phase"),
        ({"drug": "ganciclovir", "amount_mg": 350, "interval_hours": 12, "dose": 1}, "dose"),
        ({"drug": "aspirin", "amount_mg": 350, "interval_hours": 12}, "drug"),
        ({"drug": "letermovir", "amount_mg": 480, "interval_hours": 24}, "route"),
        (
            {
                "drug": "letermovir",
                "amount_mg": 480,
                "interval_hours": 24,
                "route": "oral",
                "phase": "induction",
            },
            "phase",
        ),
    ],
)
def test_bad_order_names_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(cmvrx.InputError) as info:
        cmvrx.check_order(ADULT, doc, as_of=AS_OF)
    assert info.value.field == field


def test_no_order_and_naive_as_of_are_input_errors() -> None:
    from datetime import datetime

    with pytest.raises(cmvrx.InputError):
        cmvrx.check_order(ADULT, [], as_of=AS_OF)
    with pytest.raises(cmvrx.InputError):
        cmvrx.check_order(
            ADULT,
            {"drug": "ganciclovir", "amount_mg": 350, "interval_hours": 12},
            as_of=datetime(2026, 11, 24),
        )


def test_knowledge_pickles_and_holds_no_memo() -> None:
    import dataclasses
    import pickle

    k = cmvrx.load_knowledge()
    cmvrx.plan(ADULT, as_of=AS_OF)  # warm: the memo beside k is filled
    assert "memo" not in {f.name for f in dataclasses.fields(k)}
    copy = pickle.loads(pickle.dumps(k))
    assert copy.content_hash == k.content_hash and copy.memo == {}
    assert cmvrx.plan(ADULT, as_of=AS_OF, knowledge=copy).to_dict() == (
        cmvrx.plan(ADULT, as_of=AS_OF).to_dict()
    )


def test_the_loader_knows_every_engine_predicate_and_imports_no_engine() -> None:
    import subprocess
    import sys

    from cmvrx.engine.predicates import PREDICATES
    from cmvrx.knowledge.predicate_names import PREDICATE_NAMES

    assert set(PREDICATES) == PREDICATE_NAMES
    code = (
        "import sys; from cmvrx.knowledge.loader import load; load(); "
        "print(sorted(m for m in sys.modules if m.startswith('cmvrx.engine')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_engine_never_imports_the_package_root() -> None:
    from pathlib import Path

    engine = Path(cmvrx.__file__).parent / "engine"
    for path in engine.glob("*.py"):
        text = path.read_text()
        assert "from cmvrx import" not in text and "import cmvrx\n" not in text, path


def test_vocabularies_are_in_the_knowledge() -> None:
    k = cmvrx.load_knowledge()
    assert "encephalitis" in k.vocabulary("cns_sites")
    assert "tacrolimus" in k.vocabulary("calcineurin_or_mtor") <= k.vocabulary("immunosuppressants")
    assert k.vocabulary("renally_dosed") == {
        "ganciclovir",
        "valganciclovir",
        "foscarnet",
        "cidofovir",
    }
    assert "foscarnet" in k.instead("ganciclovir")
