"""Knowledge values added by the clinical review and the hostile-input work, each pinned on
both sides (issue 12: every clinical number guarded; the mutation run found them).

Label and guideline values are written from clinical-reference.md; NOT CONFIRMED design
values (configurable) are pinned at the defaults their documents list, so that a changed
default is a reviewed change."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

import cmvrx
from cmvrx.engine.body_size import check_body_size
from cmvrx.engine.course.doses import label_maximum
from cmvrx.engine.dose_table import _rounding
from cmvrx.engine.dosing import _round
from cmvrx.errors import ImplausibleValueError

K = cmvrx.load_knowledge()
CASES = Path(__file__).parent / "cases"


def vignette(stem: str) -> tuple[dict[str, Any], datetime]:
    data = yaml.safe_load((CASES / f"{stem}.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(data["case"]), datetime.fromisoformat(data["as_of"])


def plan(case: dict[str, Any], as_of: datetime) -> dict[str, Any]:
    return cmvrx.plan(case, as_of=as_of).to_dict()


# --- rounding (issue 7 item 4; tolerance ±5 %, NOT CONFIRMED; finer steps 1 and 0.1 mg) --


@pytest.mark.parametrize("drug", ["ganciclovir", "foscarnet", "cidofovir"])
def test_rounding_takes_the_coarsest_step_within_5_percent(drug: str) -> None:
    table = SimpleNamespace(rounding=_rounding(K, K.drug(drug)))
    # 47.4 mg: the 5/10 mg step gives 45 or 50 (−5.1 % / +5.5 %): outside ±5 % → 1 mg → 47
    assert _round(table, 47.4, 1e9)[0] == 47  # type: ignore[arg-type]
    # 4.53 mg: 5 mg and 1 mg steps give 5 (+10 %) → 0.1 mg → 4.5
    assert _round(table, 4.53, 1e9)[0] == 4.5  # type: ignore[arg-type]
    # 48.2 mg: 50 (+3.7 %) or 50 → the coarse step is kept
    assert _round(table, 48.2, 1e9)[0] == 50  # type: ignore[arg-type]


def test_rounding_tolerance_default_is_5_percent() -> None:
    assert K.number("rounding_tolerance_percent") == 5


# --- body size (issue 6 item 2; plausible_*, NOT CONFIRMED design values) ----------------


def _refused(age: float, kg: float, cm: float | None) -> bool:
    try:
        check_body_size(K, age_years=age, weight_kg=kg, height_cm=cm)
    except ImplausibleValueError:
        return True
    return False


def test_bmi_limits_7_and_200() -> None:
    assert not _refused(40, 7.5 * 1.7**2, 170)
    assert _refused(40, 6.5 * 1.7**2, 170)
    assert not _refused(40, 199.5 * 1.7**2, 170)
    assert _refused(40, 200.5 * 1.7**2, 170)


def test_bmi_applies_from_age_2() -> None:
    assert _refused(2.5, 6.5 * 0.9**2, 90)  # BMI 6.5 at 2.5 years: refused
    assert not _refused(1.5, 6.5 * 0.8**2, 80)  # below 2 years BMI is not used


def test_adult_minimum_weight_5_kg() -> None:
    assert not _refused(40, 5.5, None)
    assert _refused(40, 4.5, None)


def test_under_2_maximum_weight_30_kg() -> None:
    assert not _refused(1, 29.5, None)
    assert _refused(1, 30.5, None)


# --- patient-specific text (issue 7 items 8, 13) ------------------------------------------


@pytest.mark.parametrize(("age", "asked"), [(55, True), (55.5, False)])
def test_pregnancy_test_up_to_age_55(age: float, asked: bool) -> None:
    case, as_of = vignette("gcvx_06_counts_exactly_at_thresholds")
    case["patient"]["sex"] = "female"
    case["patient"]["age"] = {"value": age, "unit": "a"}
    p = plan(case, as_of)
    assert ("MON-PREGNANCY-TEST" in {m["rule_id"] for m in p["monitoring"]}) is asked


@pytest.mark.parametrize(("age", "young"), [(5.9, True), (6.5, False)])
def test_cd4_percent_age_limit_6_years(age: float, young: bool) -> None:
    """Under 6 years CD4 is judged by percentage (ref. §9.6): the adult CD4-count stop
    rules are not shown."""
    case, as_of = vignette("ped_13_hiv_child_4y_no_adult_cd4_rules")
    case["patient"]["age"] = {"value": age, "unit": "a"}
    stop = {c["rule_id"] for c in plan(case, as_of)["maintenance"]["stop"]}
    assert ("STOP-HIV-YOUNG-CHILD-SPECIALIST" in stop) is young
    assert ("STOP-HIV-IMMUNE-RECOVERY" in stop) is not young


def test_congenital_status_is_asked_below_1_year_only() -> None:
    case, as_of = vignette("ped_10_congenital_cmv_cns_ganciclovir_6_weeks")
    del case["disease"]["congenital"]
    case["patient"]["age"] = {"value": 11, "unit": "mo"}
    assert plan(case, as_of)["regimen"]["rule_id"] == "REG-INFANT-CONGENITAL-UNKNOWN"
    case["patient"]["age"] = {"value": 1.5, "unit": "a"}
    assert plan(case, as_of)["regimen"]["rule_id"] != "REG-INFANT-CONGENITAL-UNKNOWN"


def test_intravitreal_doses_2_mg_and_2_4_mg() -> None:
    """Ref. §9.2: intravitreal ganciclovir 2 mg or foscarnet 2.4 mg per injection."""
    case, as_of = vignette("noncns_01_retinitis_hiv_sight_threatening")
    alerts = {a["rule_id"]: a["message"] for a in plan(case, as_of)["alerts"]}
    message = alerts["ALR-SIGHT-THREATENING-RETINITIS"]
    assert "ganciclovir 2 mg or foscarnet 2.4 mg per injection" in message


# --- foscarnet hydration at the label's band ends: the label volume, never "between" ------


@pytest.mark.parametrize(
    ("column", "phase", "scr", "per_kg"),
    [
        ("60_q8h", "induction", 1.8, 40.0),
        ("60_q8h", "induction", 0.8, 60.0),
        ("90_q12h", "induction", 0.8, 90.0),
        ("120_per_day", "maintenance", 0.8, 120.0),
    ],
)
def test_band_end_doses_use_the_label_band(
    column: str, phase: str, scr: float, per_kg: float
) -> None:
    d = cmvrx.dose(
        "foscarnet", phase=phase, column=column, as_of=datetime.fromisoformat(
            "2026-11-24T12:00:00+00:00"), weight_kg=70, age_years=50, sex="male", creatinine=scr
    )  # fmt: skip
    assert d.dose_per_kg == per_kg
    assert not any("NOT CONFIRMED" in line for line in d.hydration), d.hydration
    assert "hydration_between_bands" not in d.not_confirmed


# --- congenital CMV (NIH pediatric guideline, ref. §1.6: 6 mg/kg q12h) --------------------


def test_congenital_label_maximum_is_6_mg_per_kg_twice_daily() -> None:
    limit = label_maximum(K, "ganciclovir", congenital=True)
    assert limit is not None
    assert (limit.per_dose, limit.per_day) == (6, 12)


@pytest.mark.parametrize(("scr", "dosed"), [(0.295, True), (0.296, False)])
def test_congenital_dose_from_egfr_70(scr: float, dosed: bool) -> None:
    """Bedside Schwartz 0.413 × 50 cm / 0.295 = 70.0 → the full congenital dose; 69.8 → none
    (the pediatric edge of the label tables, eGFR ≥ 70)."""
    case, as_of = vignette("ped_10_congenital_cmv_cns_ganciclovir_6_weeks")
    case["patient"]["height"] = {"value": 50, "unit": "cm"}
    case["renal"]["serum_creatinine"]["value"] = scr
    (gcv,) = plan(case, as_of)["regimen"]["induction"]
    assert (gcv["status"] == "dose") is dosed
