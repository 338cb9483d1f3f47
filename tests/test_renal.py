"""Renal function and body size as the labels define them, and how dialysis and stale
creatinine reach the doses.

Expected numbers are worked by hand from the formulas in clinical-reference §7 (and
§2.4 for the label's Schwartz k), not read from the knowledge files.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

import cmvrx
from cmvrx.engine import renal
from cmvrx.errors import InputError, InsufficientDataError, KnowledgeError
from strategies import AS_OF

K = cmvrx.load_knowledge()


def measured(value: float, unit: str, hours_ago: float = 2) -> dict[str, Any]:
    return {
        "value": value,
        "unit": unit,
        "measured_at": (AS_OF - timedelta(hours=hours_ago)).isoformat(),
    }


def make_case(
    *,
    age: float = 50,
    sex: str = "male",
    weight: float = 70,
    height: float | None = 175,
    scr: tuple[float, str] | None = (1.0, "mg/dL"),
    scr_hours_ago: float = 2,
    dialysis: str = "none",
    sites: tuple[str, ...] = ("pneumonitis",),
    **extra: Any,
) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "age": {"value": age, "unit": "a"},
        "sex": sex,
        "weight": {"value": weight, "unit": "kg"},
    }
    if height is not None:
        patient["height"] = {"value": height, "unit": "cm"}
    renal_in: dict[str, Any] = {"dialysis": dialysis}
    if scr is not None:
        renal_in["serum_creatinine"] = measured(*scr, hours_ago=scr_hours_ago)
    case = {
        "case_id": "renal",
        "patient": patient,
        "renal": renal_in,
        "disease": {"sites": list(sites)},
        "transplant": {"kind": "sot"},
        "blood_counts": {
            "anc": measured(3000, "/uL"),
            "platelets": measured(200000, "/uL"),
            "hemoglobin": measured(12, "g/dL"),
        },
        "oral": {"can_take_oral": True, "can_absorb_oral": True},
    }
    case.update(extra)
    return case


# --- Cockcroft–Gault (mL/min): (140 − age) × weight / (72 × SCr), × 0.85 women -----------


@pytest.mark.parametrize(
    ("age", "weight", "scr", "sex", "expected"),
    [
        (68, 70, 1.0, "male", 70.0),  # 72 × 70 / 72
        (68, 70, 1.0, "female", 59.5),  # × 0.85
        (40, 72, 2.0, "male", 50.0),  # 100 × 72 / 144
        (40, 72, 2.0, "female", 42.5),
        (20, 60, 0.8, "male", 125.0),  # 120 × 60 / 57.6
        (90, 50, 5.0, "female", 50 * 50 / 360 * 0.85),
        (140, 70, 1.0, "male", 0.0),  # age constant reached
        (150, 70, 1.0, "female", 0.0),  # never negative
    ],
)
def test_cockcroft_gault(age, weight, scr, sex, expected):
    got = renal.cockcroft_gault(K, age_years=age, weight_kg=weight, creatinine_mg_dl=scr, sex=sex)
    assert got == pytest.approx(expected, abs=1e-9)  # rounded to 9 decimals


@pytest.mark.parametrize(
    ("age", "scr", "sex", "expected"),
    [
        (68, 1.0, "male", 1.0),
        (68, 1.0, "female", 0.85),
        (40, 1.0, "male", 100 / 72),
        (40, 1.0, "female", 100 / 72 * 0.85),
        (68, 2.5, "male", 0.4),
        (68, 2.125, "female", 0.4),
        (39.2, 1.0, "male", 1.4),
        (140, 1.0, "male", 0.0),
    ],
)
def test_foscarnet_clearance_per_kg(age, scr, sex, expected):
    got = renal.foscarnet_clearance_per_kg(K, age_years=age, creatinine_mg_dl=scr, sex=sex)
    assert got == pytest.approx(expected, abs=1e-9)  # rounded to 9 decimals


@pytest.mark.parametrize("weight", [40.0, 70.0, 140.0])
def test_per_kg_estimate_is_weight_free_and_cg_is_per_kg_times_weight(weight):
    per_kg = renal.foscarnet_clearance_per_kg(K, age_years=55, creatinine_mg_dl=1.3, sex="female")
    crcl = renal.cockcroft_gault(
        K, age_years=55, weight_kg=weight, creatinine_mg_dl=1.3, sex="female"
    )
    assert crcl == pytest.approx(per_kg * weight, rel=1e-9)


@pytest.mark.parametrize(("value", "unit"), [(1.0, "mg/dL"), (88.4, "umol/L"), (88.4, "µmol/L")])
@pytest.mark.parametrize("sex", ["male", "female"])
def test_plan_reports_cg_and_per_kg_in_either_creatinine_unit(value, unit, sex):
    plan = cmvrx.plan(make_case(age=68, weight=70, sex=sex, scr=(value, unit)), as_of=AS_OF)
    factor = 0.85 if sex == "female" else 1.0
    assert plan.renal.serum_creatinine_mg_dl == pytest.approx(1.0)
    assert plan.renal.creatinine_clearance_ml_min == pytest.approx(70.0 * factor)
    assert plan.renal.clearance_per_kg_ml_min_kg == pytest.approx(1.0 * factor)
    assert "Cockcroft" in plan.renal.clearance_method


def test_measured_clearance_is_used_and_divided_by_weight_for_foscarnet():
    case = make_case(weight=80)
    case["renal"]["measured_creatinine_clearance"] = measured(60, "mL/min")
    plan = cmvrx.plan(case, as_of=AS_OF)
    assert plan.renal.creatinine_clearance_ml_min == 60
    assert plan.renal.clearance_per_kg_ml_min_kg == pytest.approx(0.75)
    assert "measured" in plan.renal.clearance_method


# --- Bedside Schwartz (mL/min/1.73 m²) = 0.413 × height (cm) / SCr (mg/dL) --------------


@pytest.mark.parametrize(
    ("height", "scr", "expected"),
    [(100, 0.413, 100.0), (120, 0.5, 99.12), (150, 1.0, 61.95), (170, 0.7, 0.413 * 170 / 0.7)],
)
def test_bedside_schwartz(height, scr, expected):
    got = renal.bedside_schwartz(K, height_cm=height, creatinine_mg_dl=scr)
    assert got == pytest.approx(expected, rel=1e-12)


def test_child_plan_uses_bedside_schwartz_not_cockcroft_gault():
    plan = cmvrx.plan(make_case(age=10, weight=30, height=120, scr=(44.2, "umol/L")), as_of=AS_OF)
    assert plan.renal.egfr_bedside_schwartz == pytest.approx(0.413 * 120 / 0.5)
    assert plan.renal.creatinine_clearance_ml_min is None
    assert plan.renal.bsa_m2 == pytest.approx(math.sqrt(120 * 30 / 3600))


def test_child_without_height_is_insufficient_data():
    plan = cmvrx.plan(make_case(age=10, weight=30, height=None), as_of=AS_OF)
    assert plan.renal.insufficient is not None and "height" in plan.renal.insufficient
    assert all(d.status == "insufficient_data" for d in plan.regimen.induction)


# --- The label's old Schwartz k (valganciclovir/Cymevene pediatric formula, §2.4) -------
# k = 0.33  < 1 y, low birth weight for gestational age
#     0.45  < 1 y, normal birth weight
#     0.45  1 to < 2 y
#     0.55  boys 2 to < 13 y; girls 2 to 16 y (i.e. < 17)
#     0.7   boys 13 to 16 y (< 17)
SCHWARTZ_K = [
    # (age, sex, low birth weight, k)
    *((age, sex, True, 0.33) for age in (0.0, 0.5, 0.99) for sex in ("male", "female")),
    *((age, sex, False, 0.45) for age in (0.0, 0.5, 0.99) for sex in ("male", "female")),
    *((age, sex, None, 0.45) for age in (1.0, 1.5, 1.99) for sex in ("male", "female")),
    *((age, "male", None, 0.55) for age in (2.0, 7.0, 12.99)),
    *((age, "male", None, 0.7) for age in (13.0, 15.0, 16.99)),
    *((age, "female", None, 0.55) for age in (2.0, 12.99, 13.0, 16.0, 16.99)),
]


@pytest.mark.parametrize(("age", "sex", "low_birth_weight", "k"), SCHWARTZ_K)
def test_label_schwartz_k(age, sex, low_birth_weight, k):
    got = renal.label_schwartz_k(K, age_years=age, sex=sex, low_birth_weight=low_birth_weight)
    assert got == k


@pytest.mark.parametrize("age", [1.0, 5.0, 16.0])
@pytest.mark.parametrize("low_birth_weight", [True, False])
def test_low_birth_weight_matters_only_for_infants(age, low_birth_weight):
    without = renal.label_schwartz_k(K, age_years=age, sex="female", low_birth_weight=None)
    assert (
        renal.label_schwartz_k(K, age_years=age, sex="female", low_birth_weight=low_birth_weight)
        == without
    )


@pytest.mark.parametrize("sex", ["male", "female"])
def test_infant_k_needs_birth_weight(sex):
    with pytest.raises(InsufficientDataError) as err:
        renal.label_schwartz_k(K, age_years=0.5, sex=sex, low_birth_weight=None)
    assert "birth weight" in err.value.measure


@pytest.mark.parametrize("sex", ["male", "female"])
@pytest.mark.parametrize("age", [17.0, 30.0])
def test_no_label_k_beyond_16_years(sex, age):
    with pytest.raises(KnowledgeError):
        renal.label_schwartz_k(K, age_years=age, sex=sex, low_birth_weight=None)


@pytest.mark.parametrize(
    ("k", "height", "scr", "expected"),
    [(0.55, 100, 0.5, 110.0), (0.7, 150, 1.05, 100.0), (0.45, 60, 0.1, 150.0)],  # last: capped
)
def test_label_schwartz_is_capped_at_150(k, height, scr, expected):
    got = renal.label_schwartz(K, height_cm=height, creatinine_mg_dl=scr, schwartz_k=k)
    assert got == pytest.approx(expected)


# --- Mosteller BSA, Devine IBW, adjusted weight, obesity flag ---------------------------


@pytest.mark.parametrize(
    ("height", "weight", "bsa"),
    [(180, 80, 2.0), (150, 24, 1.0), (100, 16, math.sqrt(1600 / 3600)), (60, 6, math.sqrt(0.1))],
)
def test_mosteller_bsa(height, weight, bsa):
    assert renal.mosteller_bsa(K, height_cm=height, weight_kg=weight) == pytest.approx(bsa)


@pytest.mark.parametrize(
    ("height", "sex", "ibw"),
    [
        (152.4, "male", 50.0),  # 60 in: the base
        (152.4, "female", 45.5),
        (177.8, "male", 73.0),  # 70 in: + 10 × 2.3
        (177.8, "female", 68.5),
        (190.5, "male", 50 + 2.3 * 15),
        (165.1, "female", 45.5 + 2.3 * 5),
    ],
)
def test_devine_ideal_body_weight(height, sex, ibw):
    assert renal.ideal_body_weight(K, height_cm=height, sex=sex) == pytest.approx(ibw)


@pytest.mark.parametrize(
    ("basis", "weight", "expected"),
    [
        ("actual", 103, 103.0),
        ("ideal", 103, 73.0),
        ("adjusted", 103, 73 + 0.4 * (103 - 73)),  # IBW + 0.4 × (TBW − IBW), factor NOT CONFIRMED
        ("ideal", 60, 60.0),  # never above actual
        ("adjusted", 60, 60.0),  # below IBW: actual
    ],
)
def test_dosing_weight_basis(basis, weight, expected):
    plan = cmvrx.plan(make_case(weight=weight, height=177.8, weight_basis=basis), as_of=AS_OF)
    assert plan.renal.weight_kg == pytest.approx(expected)
    assert plan.renal.actual_weight_kg == weight
    assert plan.renal.ideal_weight_kg == pytest.approx(73.0)
    assert plan.renal.weight_basis == basis
    for d in plan.regimen.induction:
        if d.status == "dose" and d.dose_per_kg is not None:
            assert d.weight_kg == pytest.approx(expected)
            assert d.dose_mg == pytest.approx(d.dose_per_kg * expected, abs=0.051)
    # Cockcroft–Gault uses the same weight: (140 − 50) × w / 72
    assert plan.renal.creatinine_clearance_ml_min == pytest.approx(90 * expected / 72)


@pytest.mark.parametrize("basis", ["ideal", "adjusted"])
def test_weight_basis_other_than_actual_needs_height(basis):
    with pytest.raises(InsufficientDataError):
        cmvrx.plan(make_case(height=None, weight_basis=basis), as_of=AS_OF)


@pytest.mark.parametrize(
    ("weight", "obese"),
    [(73.0, False), (87.5, False), (87.7, True), (130.0, True)],  # limit 1.2 × IBW 73 = 87.6
)
def test_obesity_flag(weight, obese):
    plan = cmvrx.plan(make_case(weight=weight, height=177.8), as_of=AS_OF)
    assert plan.renal.obese is obese
    assert ("ALR-OBESITY-WEIGHT" in {a.rule_id for a in plan.alerts}) is obese


def test_no_obesity_flag_without_height():
    plan = cmvrx.plan(make_case(weight=150, height=None), as_of=AS_OF)
    assert plan.renal.obese is False
    assert plan.renal.ideal_weight_kg is None


# --- Dialysis ----------------------------------------------------------------------------


@pytest.mark.parametrize("scr", [None, (8.0, "mg/dL"), (0.8, "mg/dL")])
def test_hemodialysis_plan_uses_the_ganciclovir_hemodialysis_row(scr):
    plan = cmvrx.plan(
        make_case(weight=80, scr=scr, dialysis="intermittent_hemodialysis"), as_of=AS_OF
    )
    (gcv,) = (d for d in plan.regimen.induction if d.drug == "ganciclovir")
    assert gcv.status == "dose"
    assert gcv.dose_per_kg == 1.25
    assert gcv.interval == "3 times weekly, after hemodialysis"
    assert gcv.practical_mg <= 1.25 * 80
    maintenance = {d.drug: d for d in plan.maintenance.options}
    assert "valganciclovir" not in maintenance  # no tablets on hemodialysis
    assert maintenance["ganciclovir"].dose_per_kg == 0.625
    assert maintenance["ganciclovir"].interval == "3 times weekly, after hemodialysis"
    if plan.regimen.step_down is not None:
        assert plan.regimen.step_down.eligible is False
    assert "ALR-HEMODIALYSIS-NO-VALGANCICLOVIR" in {a.rule_id for a in plan.alerts}


RENAL_DRUGS = [
    ("ganciclovir", "induction", None),
    ("ganciclovir", "maintenance", None),
    ("valganciclovir", "induction", None),
    ("valganciclovir", "maintenance", None),
    ("foscarnet", "induction", "60_q8h"),
    ("foscarnet", "induction", "90_q12h"),
    ("foscarnet", "maintenance", "90_per_day"),
    ("foscarnet", "maintenance", "120_per_day"),
    ("cidofovir", "induction", None),
    ("cidofovir", "maintenance", None),
]


@pytest.mark.parametrize("dialysis", ["crrt", "peritoneal"])
@pytest.mark.parametrize(("drug", "phase", "column"), RENAL_DRUGS)
@pytest.mark.parametrize("creatinine", [None, 0.8, 4.0])
def test_continuous_and_peritoneal_dialysis_have_no_label_dose(
    dialysis, drug, phase, column, creatinine
):
    d = cmvrx.dose(
        drug, phase=phase, as_of=AS_OF, weight_kg=70, age_years=50, sex="male",
        creatinine=creatinine, dialysis=dialysis, column=column,
    )  # fmt: skip
    # Cidofovir on any dialysis is contraindicated outright (CrCl ≤ 55 mL/min, label §4),
    # as the plan's eligibility says; the others have no label dose.
    assert d.status == ("not_recommended" if drug == "cidofovir" else "no_label_dose")
    assert d.dose_mg is None and d.practical_mg is None and d.dose_per_kg is None
    assert d.interval == "" and d.per_day is None
    assert "hemodialysis" not in d.rule_id
    assert d.reason


@pytest.mark.parametrize("dialysis", ["crrt", "peritoneal"])
@pytest.mark.parametrize("sites", [("pneumonitis",), ("encephalitis",), ("retinitis",)])
def test_continuous_and_peritoneal_dialysis_plans_withhold_every_dose(dialysis, sites):
    plan = cmvrx.plan(make_case(scr=(0.8, "mg/dL"), dialysis=dialysis, sites=sites), as_of=AS_OF)
    doses = [*plan.regimen.induction, *plan.maintenance.options]
    if plan.regimen.step_down is not None and plan.regimen.step_down.dose is not None:
        doses.append(plan.regimen.step_down.dose)
    assert doses
    for d in doses:
        assert d.status == "no_label_dose", d
        assert d.practical_mg is None
    assert "ALR-NO-LABEL-DOSE-CONTINUOUS-DIALYSIS" in {a.rule_id for a in plan.alerts}
    assert plan.renal.dialysis == dialysis


# --- Stale creatinine --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "stale"), [(0, False), (71.9, False), (72, False), (72.1, True), (200, True)]
)
def test_creatinine_older_than_72_hours_is_insufficient_data(hours, stale):
    plan = cmvrx.plan(make_case(scr_hours_ago=hours), as_of=AS_OF)
    doses = [*plan.regimen.induction, *plan.maintenance.options]
    assert doses
    if stale:
        assert plan.renal.insufficient is not None
        assert "serum creatinine" in plan.renal.insufficient
        assert plan.renal.creatinine_clearance_ml_min is None
        for d in doses:
            assert d.status == "insufficient_data", d
            assert d.practical_mg is None
            assert "creatinine" in d.measure
        assert "creatinine_max_age_hours" in {n.id for n in plan.not_confirmed}
    else:
        assert plan.renal.insufficient is None
        assert any(d.status == "dose" for d in doses)


def test_missing_creatinine_is_insufficient_data():
    plan = cmvrx.plan(make_case(scr=None), as_of=AS_OF)
    for d in (*plan.regimen.induction, *plan.maintenance.options):
        assert d.status == "insufficient_data"
        assert "creatinine" in d.measure


def test_creatinine_measured_after_as_of_is_refused():
    with pytest.raises(InputError, match="after as_of"):
        cmvrx.plan(make_case(scr_hours_ago=-1), as_of=AS_OF)


def test_stale_limit_is_the_configurable_parameter():
    relaxed = cmvrx.load_knowledge(overrides={"creatinine_max_age_hours": 120})
    plan = cmvrx.plan(make_case(scr_hours_ago=100), as_of=AS_OF, knowledge=relaxed)
    assert plan.renal.insufficient is None
    assert any(d.status == "dose" for d in plan.regimen.induction)
