"""Properties that must hold for every patient, not just the worked examples."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cmvrx
from cmvrx.engine.dosing import find_band
from cmvrx.model.plan import DrugDose, Plan
from cmvrx.units import INTERNAL_UNIT, accepted_units, from_internal, to_internal
from strategies import (
    AS_OF,
    adult_dose_choices,
    adult_patients,
    cases,
    crcl_ml_min,
    creatinine_mg_dl,
)

FAST = settings(max_examples=200, deadline=None)
K = cmvrx.load_knowledge()
RENAL_SCHEDULES = [s for s in K.schedules.values() if s.measure != "none"]

# Test-side copies of the label facts the properties check against.
ADMINISTRATIONS_PER_WEEK = {
    "q8h": 21, "q12h": 14, "q24h": 7, "q48h": 3.5, "twice daily": 14, "once daily": 7,
    "every 2 days": 3.5, "twice weekly": 2, "once weekly": 1, "every 2 weeks": 0.5,
    "3 times weekly, after hemodialysis": 3,
}  # fmt: skip
# Label maximum per phase, whatever the column: mg/kg/day (valganciclovir: mg/day).
LABEL_MAX_PER_DAY = {
    ("ganciclovir", "induction"): 10.0,  # 5 mg/kg q12h
    ("ganciclovir", "maintenance"): 5.0,  # 5 mg/kg q24h
    ("valganciclovir", "induction"): 1800.0,  # 900 mg twice daily
    ("valganciclovir", "maintenance"): 900.0,  # 900 mg once daily
    ("foscarnet", "induction"): 180.0,  # 60 mg/kg q8h or 90 mg/kg q12h
    ("foscarnet", "maintenance"): 120.0,  # 120 mg/kg/day
    ("cidofovir", "induction"): 5.0 / 7,  # 5 mg/kg once weekly
    ("cidofovir", "maintenance"): 5.0 / 14,  # 5 mg/kg every 2 weeks
}


def band_edges() -> list[float]:
    edges = {b.lower for s in RENAL_SCHEDULES for b in s.band}
    edges |= {b.upper for s in RENAL_SCHEDULES for b in s.band if not math.isinf(b.upper)}
    return sorted(edges)


clearances = st.one_of(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from(band_edges()),
    st.sampled_from(band_edges()).map(lambda x: math.nextafter(x, math.inf)),
    st.sampled_from(band_edges()).map(lambda x: max(0.0, math.nextafter(x, -math.inf))),
)


def row_per_day(schedule, value: float) -> float:
    band = find_band(schedule, value)
    if not band.recommended:
        return 0.0
    return band.dose * ADMINISTRATIONS_PER_WEEK[band.interval.value] / 7


def dose_per_day(d: DrugDose) -> float:
    return d.per_day if d.status == "dose" else 0.0


# --- (a) dose per day never rises as renal function falls -------------------------------


@FAST
@given(schedule=st.sampled_from(RENAL_SCHEDULES), a=clearances, b=clearances)
def test_band_dose_per_day_never_rises_as_clearance_falls(schedule, a, b):
    low, high = sorted((a, b))
    assert row_per_day(schedule, low) <= row_per_day(schedule, high)


@FAST
@given(choice=adult_dose_choices, patient=adult_patients(), other=creatinine_mg_dl)
def test_dose_per_day_never_rises_as_creatinine_rises(choice, patient, other):
    drug, phase, column = choice
    kwargs = {
        **patient,
        "creatinine": patient["creatinine"],
        "creatinine_unit": patient["creatinine_unit"],
    }
    first = cmvrx.dose(drug, phase=phase, column=column, as_of=AS_OF, **kwargs)
    second = cmvrx.dose(
        drug, phase=phase, column=column, as_of=AS_OF,
        **{**kwargs, "creatinine": other, "creatinine_unit": "mg/dL"},
    )  # fmt: skip
    scr_first = cmvrx.units.creatinine_mg_dl(patient["creatinine"], patient["creatinine_unit"])
    better, worse = (first, second) if scr_first <= other else (second, first)
    assert dose_per_day(worse) <= dose_per_day(better)


@FAST
@given(schedule=st.sampled_from(RENAL_SCHEDULES), a=crcl_ml_min, b=crcl_ml_min)
def test_adjacent_bands_never_swap_order(schedule, a, b):
    """A lower clearance never lands in a band that sits above the higher one's."""
    low, high = sorted((a, b))
    assert find_band(schedule, low).lower <= find_band(schedule, high).lower


# --- (b) every clearance ≥ 0 falls in exactly one band of every schedule -----------------


@FAST
@given(value=clearances)
def test_every_clearance_is_in_exactly_one_band_of_every_schedule(value):
    for schedule in RENAL_SCHEDULES:
        hits = [b for b in schedule.band if b.contains(value)]
        assert len(hits) == 1, (schedule.id, value, hits)


@pytest.mark.parametrize("schedule", RENAL_SCHEDULES, ids=lambda s: s.id)
def test_every_edge_and_its_neighbours_are_in_exactly_one_band(schedule):
    for edge in band_edges():
        for x in (edge, math.nextafter(edge, math.inf), max(0.0, math.nextafter(edge, -math.inf))):
            assert sum(b.contains(x) for b in schedule.band) == 1, (schedule.id, x)


# --- (c) unit conversions round-trip ----------------------------------------------------

UNIT_CASES = [(kind, unit) for kind in INTERNAL_UNIT for unit in accepted_units(kind)]


@FAST
@given(
    kind_unit=st.sampled_from(UNIT_CASES),
    value=st.floats(min_value=1e-6, max_value=1e7, allow_nan=False, allow_infinity=False),
)
def test_units_round_trip(kind_unit, value):
    kind, unit = kind_unit
    internal = to_internal(value, unit, kind, field="x")
    assert from_internal(internal, unit, kind) == pytest.approx(value, rel=1e-12)
    assert to_internal(from_internal(value, unit, kind), unit, kind, field="x") == pytest.approx(
        value, rel=1e-12
    )


@pytest.mark.parametrize(("kind", "unit"), UNIT_CASES)
def test_every_unit_converts_zero_to_zero_and_is_increasing(kind, unit):
    assert to_internal(0.0, unit, kind, field="x") == 0.0
    assert to_internal(2.0, unit, kind, field="x") > to_internal(1.0, unit, kind, field="x")


@pytest.mark.parametrize(
    ("value", "unit", "kind", "internal"),
    [
        (88.4, "umol/L", "creatinine", 1.0),
        (88.4, "µmol/L", "creatinine", 1.0),
        (1.0, "mg/dL", "creatinine", 1.0),
        (1.0, "[lb_av]", "mass", 0.45359237),
        (1.0, "[in_i]", "length", 2.54),
        (1.8, "m", "length", 180.0),
        (1500, "g", "mass", 1.5),
        (18, "mo", "age", 1.5),
        (1.5, "10*9/L", "cell_count", 1500.0),
        (120, "g/L", "hemoglobin", 12.0),
    ],
)
def test_unit_factors(value, unit, kind, internal):
    assert to_internal(value, unit, kind, field="x") == pytest.approx(internal, rel=1e-12)


def test_unknown_unit_is_refused_naming_the_field():
    with pytest.raises(cmvrx.UnitError) as err:
        to_internal(1.0, "mmol/L", "creatinine", field="renal.serum_creatinine")
    assert err.value.field == "renal.serum_creatinine"


# --- (d) no dose ever exceeds the label maximum for its phase ---------------------------


def assert_within_label_maximum(d: DrugDose) -> None:
    if d.status != "dose":
        assert d.practical_mg is None
        return
    label_max = LABEL_MAX_PER_DAY[(d.drug, d.phase)]
    assert d.max_per_day <= label_max * (1 + 1e-9), d
    assert d.per_day <= d.max_per_day + 0.5e-4, d  # per_day is shown to 4 decimals
    per_week = ADMINISTRATIONS_PER_WEEK[d.interval]
    per_admin = d.max_per_day * 7 / per_week
    if d.dose_unit == "mg/kg":
        assert d.practical_mg <= per_admin * d.weight_kg + 1e-6, d
        if d.rule_id.endswith("#hemodialysis"):  # label: should not exceed the HD dose
            assert d.practical_mg <= d.dose_per_kg * d.weight_kg + 1e-6, d
    else:
        assert d.practical_mg <= per_admin + 1e-6, d
    assert d.practical_mg > 0


def plan_doses(plan: Plan) -> list[DrugDose]:
    doses = [*plan.regimen.induction, *plan.maintenance.options]
    if plan.regimen.step_down is not None and plan.regimen.step_down.dose is not None:
        doses.append(plan.regimen.step_down.dose)
    return doses


@FAST
@given(
    choice=adult_dose_choices,
    patient=adult_patients(),
    dialysis=st.sampled_from(["none", "none", "intermittent_hemodialysis"]),
)
def test_quick_dose_never_exceeds_the_label_maximum(choice, patient, dialysis):
    drug, phase, column = choice
    d = cmvrx.dose(drug, phase=phase, column=column, as_of=AS_OF, dialysis=dialysis, **patient)
    assert_within_label_maximum(d)


@FAST
@given(case=cases())
def test_plan_never_exceeds_the_label_maximum(case):
    plan = cmvrx.plan(case, as_of=AS_OF)
    for d in plan_doses(plan):
        assert_within_label_maximum(d)


# --- (e) the order of list inputs never changes the plan ---------------------------------


@FAST
@given(case=cases(), data=st.data())
def test_order_of_list_inputs_never_changes_the_plan(case, data):
    shuffled = copy.deepcopy(case)
    shuffled["medications"] = data.draw(st.permutations(case["medications"]))
    shuffled["resistance_mutations"] = data.draw(st.permutations(case["resistance_mutations"]))
    shuffled["disease"]["sites"] = data.draw(st.permutations(case["disease"]["sites"]))
    assert cmvrx.plan(shuffled, as_of=AS_OF).to_dict() == cmvrx.plan(case, as_of=AS_OF).to_dict()


def test_mutation_order_does_not_change_the_resistance_alert():
    """Worked example for (e): the alert text once listed mutations in input order."""
    base = {
        "case_id": "order",
        "patient": {"age": {"value": 50, "unit": "a"}, "sex": "male",
                    "weight": {"value": 70, "unit": "kg"}},
        "renal": {"dialysis": "none"},
        "disease": {"sites": ["pneumonitis"]},
    }  # fmt: skip
    a = {"gene": "UL97", "mutation": "A594V"}
    b = {"gene": "UL56", "mutation": "C325Y"}
    one = cmvrx.plan({**base, "resistance_mutations": [a, b]}, as_of=AS_OF)
    two = cmvrx.plan({**base, "resistance_mutations": [b, a]}, as_of=AS_OF)
    assert one.to_dict() == two.to_dict()
