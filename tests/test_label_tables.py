"""Every row of every label renal table, reproduced through ``cmvrx.dose``.

The expected values are a test-side copy of the label tables, written out below and
NOT read from the knowledge files, so a wrong knowledge file fails these tests.
Each row is hit on both sides of each of its edges (exactly on the edge, and just
beyond it), with creatinine in mg/dL and in µmol/L, for men and women.

Creatinine values are found by inverting the label's Cockcroft–Gault:
    CrCl (mL/min)     = (140 − age) × weight / (72 × SCr)   × 0.85 for women
    CrCl (mL/min/kg)  = (140 − age) / (72 × SCr)            × 0.85 for women (foscarnet)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

import cmvrx
from strategies import AS_OF, UMOL_PER_MG

INF = math.inf


@dataclass(frozen=True)
class Row:
    """One label row: the band lower..upper and its dose (None: not recommended)."""

    lower: float
    lower_inclusive: bool
    upper: float
    upper_inclusive: bool
    dose: float | None
    interval: str | None


def nr(lower: float, li: bool, upper: float, ui: bool) -> Row:
    return Row(lower, li, upper, ui, None, None)


# --- Ganciclovir IV: US label §2.5 Table 1 (clinical-reference §1.3) -------------------
# CrCl mL/min | induction | maintenance
#   ≥ 70     | 5.0 mg/kg q12h  | 5.0 mg/kg q24h
#   50–69    | 2.5 mg/kg q12h  | 2.5 mg/kg q24h
#   25–49    | 2.5 mg/kg q24h  | 1.25 mg/kg q24h
#   10–24    | 1.25 mg/kg q24h | 0.625 mg/kg q24h
#   < 10     | only on hemodialysis: 1.25 / 0.625 mg/kg 3 times weekly after HD
# Integer bands read as half-open intervals of a continuous CrCl ([50, 70), ...).
GCV_INDUCTION = (
    Row(70, True, INF, False, 5.0, "q12h"),
    Row(50, True, 70, False, 2.5, "q12h"),
    Row(25, True, 50, False, 2.5, "q24h"),
    Row(10, True, 25, False, 1.25, "q24h"),
    nr(0, True, 10, False),
)
GCV_MAINTENANCE = (
    Row(70, True, INF, False, 5.0, "q24h"),
    Row(50, True, 70, False, 2.5, "q24h"),
    Row(25, True, 50, False, 1.25, "q24h"),
    Row(10, True, 25, False, 0.625, "q24h"),
    nr(0, True, 10, False),
)
GCV_HEMODIALYSIS = {
    "induction": (1.25, "3 times weekly, after hemodialysis"),
    "maintenance": (0.625, "3 times weekly, after hemodialysis"),
}

# --- Valganciclovir: US label §2.5 Table 2 (clinical-reference §2.3), mg per dose -------
#   ≥ 60   | 900 mg twice daily     | 900 mg once daily
#   40–59  | 450 mg twice daily     | 450 mg once daily
#   25–39  | 450 mg once daily      | 450 mg every 2 days
#   10–24  | 450 mg every 2 days    | 450 mg twice weekly
#   < 10 (on hemodialysis) | not recommended | not recommended
VGC_INDUCTION = (
    Row(60, True, INF, False, 900, "twice daily"),
    Row(40, True, 60, False, 450, "twice daily"),
    Row(25, True, 40, False, 450, "once daily"),
    Row(10, True, 25, False, 450, "every 2 days"),
    nr(0, True, 10, False),
)
VGC_MAINTENANCE = (
    Row(60, True, INF, False, 900, "once daily"),
    Row(40, True, 60, False, 450, "once daily"),
    Row(25, True, 40, False, 450, "every 2 days"),
    Row(10, True, 25, False, 450, "twice weekly"),
    nr(0, True, 10, False),
)

# --- Foscarnet: label Table 13 (clinical-reference §3.3), CrCl in mL/min/kg ------------
# Edges per the label footnote (">" greater than); the 0.4 edge is 0.4 ≤ CrCl ≤ 0.5 in
# both phases and < 0.4 is not recommended (reference §3.3, grade B on that boundary).
#                 induction 60 q8h | induction 90 q12h | maint 90/day | maint 120/day
#   > 1.4       |   60 q8h         |   90 q12h         |   90 q24h    |  120 q24h
#   > 1.0–1.4   |   45 q8h         |   70 q12h         |   70 q24h    |   90 q24h
#   > 0.8–1.0   |   50 q12h        |   50 q12h         |   50 q24h    |   65 q24h
#   > 0.6–0.8   |   40 q12h        |   80 q24h         |   80 q48h    |  105 q48h
#   > 0.5–0.6   |   60 q24h        |   60 q24h         |   60 q48h    |   80 q48h
#   0.4–0.5     |   50 q24h        |   50 q24h         |   50 q48h    |   65 q48h
#   < 0.4       |   not recommended (all four columns)
_FOS_BANDS = (
    (1.4, False, INF, False),
    (1.0, False, 1.4, True),
    (0.8, False, 1.0, True),
    (0.6, False, 0.8, True),
    (0.5, False, 0.6, True),
    (0.4, True, 0.5, True),
)
_FOS_DOSES = {
    "60_q8h": ((60, "q8h"), (45, "q8h"), (50, "q12h"), (40, "q12h"), (60, "q24h"), (50, "q24h")),
    "90_q12h": ((90, "q12h"), (70, "q12h"), (50, "q12h"), (80, "q24h"), (60, "q24h"), (50, "q24h")),
    "90_per_day": ((90, "q24h"), (70, "q24h"), (50, "q24h"), (80, "q48h"), (60, "q48h"), (50, "q48h")),
    "120_per_day": (
        (120, "q24h"), (90, "q24h"), (65, "q24h"), (105, "q48h"), (80, "q48h"), (65, "q48h"),
    ),
}  # fmt: skip
FOSCARNET = {
    column: (
        *(
            Row(*band, dose, interval)
            for band, (dose, interval) in zip(_FOS_BANDS, doses, strict=True)
        ),
        nr(0, True, 0.4, False),
    )
    for column, doses in _FOS_DOSES.items()
}
FOS_PHASE = {"60_q8h": "induction", "90_q12h": "induction",
             "90_per_day": "maintenance", "120_per_day": "maintenance"}  # fmt: skip

# --- Cidofovir: Vistide label (clinical-reference §4): start only with CrCl > 55 mL/min -
#   induction 5 mg/kg once weekly × 2; maintenance 5 mg/kg every 2 weeks; CrCl ≤ 55: no.
CDV_INDUCTION = (Row(55, False, INF, False, 5.0, "once weekly"), nr(0, True, 55, True))
CDV_MAINTENANCE = (Row(55, False, INF, False, 5.0, "every 2 weeks"), nr(0, True, 55, True))

# Label maxima per phase (mg/kg/day, or mg/day for valganciclovir), written out:
# ganciclovir 5 mg/kg q12h / q24h; valganciclovir 900 mg bid / daily; foscarnet the
# column's normal-renal-function dose; cidofovir 5 mg/kg weekly / every 2 weeks.
LABEL_MAX_PER_DAY = {
    ("ganciclovir", "induction"): 10.0,
    ("ganciclovir", "maintenance"): 5.0,
    ("valganciclovir", "induction"): 1800.0,
    ("valganciclovir", "maintenance"): 900.0,
    ("foscarnet", "60_q8h"): 180.0,
    ("foscarnet", "90_q12h"): 180.0,
    ("foscarnet", "90_per_day"): 90.0,
    ("foscarnet", "120_per_day"): 120.0,
    ("cidofovir", "induction"): 5.0 / 7,
    ("cidofovir", "maintenance"): 5.0 / 14,
}

ADMINISTRATIONS_PER_WEEK = {
    "q8h": 21,
    "q12h": 14,
    "q24h": 7,
    "q48h": 3.5,
    "twice daily": 14,
    "once daily": 7,
    "every 2 days": 3.5,
    "twice weekly": 2,
    "once weekly": 1,
    "every 2 weeks": 0.5,
    "3 times weekly, after hemodialysis": 3,
}

# Two adult patients per sex: (age in years, weight in kg).
PATIENTS = {"male": ((45, 82.0), (72, 58.5)), "female": ((45, 82.0), (72, 58.5))}
UNITS = ("mg/dL", "umol/L")


def female_factor(sex: str) -> float:
    return 0.85 if sex == "female" else 1.0


def scr_for_crcl(crcl: float, *, age: float, weight: float, sex: str) -> float:
    """SCr (mg/dL) giving this Cockcroft–Gault CrCl (mL/min)."""
    return (140 - age) * weight * female_factor(sex) / (72 * crcl)


def scr_for_crcl_per_kg(crcl_kg: float, *, age: float, sex: str) -> float:
    """SCr (mg/dL) giving this foscarnet CrCl (mL/min/kg)."""
    return (140 - age) * female_factor(sex) / (72 * crcl_kg)


def in_unit(scr_mg_dl: float, unit: str) -> float:
    return scr_mg_dl if unit == "mg/dL" else scr_mg_dl * UMOL_PER_MG


def points(rows: tuple[Row, ...], delta: float, top: float, bottom: float):
    """(clearance, row) pairs: every row on and just inside each of its edges.

    An inclusive edge is hit exactly; an exclusive edge is hit ``delta`` inside. As
    adjacent rows share edges, each edge is tested from both sides.
    """
    out = []
    for row in rows:
        lo = row.lower if row.lower_inclusive else row.lower + delta
        hi = (
            top
            if math.isinf(row.upper)
            else (row.upper if row.upper_inclusive else row.upper - delta)
        )
        if row.lower == 0:
            lo = bottom
        out.extend([(lo, row), (hi, row), ((lo + hi) / 2, row)])
    return out


def cases_for(rows, delta, top, bottom):
    return [
        pytest.param(x, row, sex, age, weight, unit, id=f"{x:g}-{sex}-{age}y-{unit}")
        for x, row in points(rows, delta, top, bottom)
        for sex, patients in PATIENTS.items()
        for age, weight in patients
        for unit in UNITS
    ]


def check_dose(d: cmvrx.DrugDose, row: Row, *, weight: float, per_kg: bool, max_key) -> None:
    if row.dose is None:
        assert d.status == "not_recommended", d
        assert d.dose_mg is None and d.practical_mg is None and d.interval == ""
        assert d.reason
        return
    assert d.status == "dose", d
    assert d.interval == row.interval
    per_week = ADMINISTRATIONS_PER_WEEK[row.interval]
    assert d.per_day == pytest.approx(row.dose * per_week / 7, rel=1e-3)
    max_per_day = LABEL_MAX_PER_DAY[max_key]
    assert d.max_per_day == pytest.approx(max_per_day)
    assert d.per_day <= max_per_day + 0.5e-4  # per_day is shown to 4 decimals
    if per_kg:
        assert d.dose_per_kg == row.dose
        assert d.dose_unit == "mg/kg"
        assert d.weight_kg == pytest.approx(weight)
        assert d.dose_mg == pytest.approx(row.dose * weight, abs=0.051)
        # practical amount: rounded near the exact mg, never above the label maximum
        exact = row.dose * weight
        assert abs(d.practical_mg - exact) <= 10
        assert d.practical_mg <= max_per_day * 7 / per_week * weight + 1e-9
    else:
        assert d.dose_per_kg is None
        assert d.dose_unit == "mg"
        assert d.dose_mg == row.dose
        assert d.practical_mg == row.dose


@pytest.mark.parametrize(
    ("phase", "rows"), [("induction", GCV_INDUCTION), ("maintenance", GCV_MAINTENANCE)]
)
@pytest.mark.parametrize(
    ("crcl", "row", "sex", "age", "weight", "unit"), cases_for(GCV_INDUCTION, 0.01, 120, 5)
)
def test_ganciclovir_table_1(phase, rows, crcl, row, sex, age, weight, unit):
    row = rows[GCV_INDUCTION.index(row)]  # same bands in both phases
    scr = in_unit(scr_for_crcl(crcl, age=age, weight=weight, sex=sex), unit)
    d = cmvrx.dose(
        "ganciclovir", phase=phase, as_of=AS_OF, weight_kg=weight, age_years=age, sex=sex,
        creatinine=scr, creatinine_unit=unit,
    )  # fmt: skip
    check_dose(d, row, weight=weight, per_kg=True, max_key=("ganciclovir", phase))
    if row.dose is not None:
        assert d.route == "IV"


@pytest.mark.parametrize("phase", ["induction", "maintenance"])
@pytest.mark.parametrize("sex", ["male", "female"])
@pytest.mark.parametrize(
    ("creatinine", "unit"), [(None, "mg/dL"), (8.0, "mg/dL"), (700.0, "umol/L")]
)
@pytest.mark.parametrize("weight", [58.5, 70.0, 82.0])
def test_ganciclovir_hemodialysis_row(phase, sex, creatinine, unit, weight):
    dose_per_kg, interval = GCV_HEMODIALYSIS[phase]
    d = cmvrx.dose(
        "ganciclovir", phase=phase, as_of=AS_OF, weight_kg=weight, age_years=60, sex=sex,
        creatinine=creatinine, creatinine_unit=unit, dialysis="intermittent_hemodialysis",
    )  # fmt: skip
    assert d.status == "dose"
    assert d.dose_per_kg == dose_per_kg
    assert d.interval == interval
    assert d.dose_mg == pytest.approx(dose_per_kg * weight, abs=0.051)
    # label: "should not exceed 1.25 mg/kg (0.625 mg/kg) 3 times weekly" — rounding never goes above
    assert d.practical_mg <= dose_per_kg * weight + 1e-9
    assert d.practical_mg > dose_per_kg * weight - 10
    assert d.per_day == pytest.approx(dose_per_kg * 3 / 7, rel=1e-3)


@pytest.mark.parametrize(
    ("phase", "rows"), [("induction", VGC_INDUCTION), ("maintenance", VGC_MAINTENANCE)]
)
@pytest.mark.parametrize(
    ("crcl", "row", "sex", "age", "weight", "unit"), cases_for(VGC_INDUCTION, 0.01, 120, 5)
)
def test_valganciclovir_table_2(phase, rows, crcl, row, sex, age, weight, unit):
    row = rows[VGC_INDUCTION.index(row)]
    scr = in_unit(scr_for_crcl(crcl, age=age, weight=weight, sex=sex), unit)
    d = cmvrx.dose(
        "valganciclovir", phase=phase, as_of=AS_OF, weight_kg=weight, age_years=age, sex=sex,
        creatinine=scr, creatinine_unit=unit,
    )  # fmt: skip
    check_dose(d, row, weight=weight, per_kg=False, max_key=("valganciclovir", phase))
    if row.dose is None:
        assert "ganciclovir" in d.instead.lower()


@pytest.mark.parametrize("phase", ["induction", "maintenance"])
@pytest.mark.parametrize("sex", ["male", "female"])
@pytest.mark.parametrize(
    ("creatinine", "unit"), [(None, "mg/dL"), (8.0, "mg/dL"), (700.0, "umol/L")]
)
def test_valganciclovir_not_recommended_on_hemodialysis(phase, sex, creatinine, unit):
    d = cmvrx.dose(
        "valganciclovir", phase=phase, as_of=AS_OF, weight_kg=70, age_years=60, sex=sex,
        creatinine=creatinine, creatinine_unit=unit, dialysis="intermittent_hemodialysis",
    )  # fmt: skip
    assert d.status == "not_recommended"
    assert d.dose_mg is None and d.practical_mg is None
    assert "ganciclovir" in d.instead.lower()


@pytest.mark.parametrize("column", list(FOSCARNET))
@pytest.mark.parametrize(
    ("crcl_kg", "row_index", "sex", "age", "weight", "unit"),
    [
        pytest.param(
            x,
            FOSCARNET["60_q8h"].index(row),
            sex,
            age,
            weight,
            unit,
            id=f"{x:g}-{sex}-{age}y-{unit}",
        )
        for x, row in points(FOSCARNET["60_q8h"], 0.001, 2.0, 0.2)
        for sex, patients in PATIENTS.items()
        for age, weight in patients
        for unit in UNITS
    ],
)
def test_foscarnet_table_13(column, crcl_kg, row_index, sex, age, weight, unit):
    row = FOSCARNET[column][row_index]
    phase = FOS_PHASE[column]
    scr = in_unit(scr_for_crcl_per_kg(crcl_kg, age=age, sex=sex), unit)
    d = cmvrx.dose(
        "foscarnet", phase=phase, as_of=AS_OF, weight_kg=weight, age_years=age, sex=sex,
        creatinine=scr, creatinine_unit=unit, column=column,
    )  # fmt: skip
    check_dose(d, row, weight=weight, per_kg=True, max_key=("foscarnet", column))
    assert d.rule_id.startswith(f"foscarnet.{phase}.{column}")


@pytest.mark.parametrize("column", list(FOSCARNET))
@pytest.mark.parametrize("weight", [45.0, 70.0, 120.0])
def test_foscarnet_per_kg_clearance_ignores_weight(column, weight):
    """Weight cancels out of the foscarnet estimate: the band depends on age, sex, SCr only."""
    scr = scr_for_crcl_per_kg(0.4, age=60, sex="female")  # exactly on the 0.4 edge
    d = cmvrx.dose(
        "foscarnet", phase=FOS_PHASE[column], as_of=AS_OF, weight_kg=weight, age_years=60,
        sex="female", creatinine=scr, column=column,
    )  # fmt: skip
    check_dose(d, FOSCARNET[column][5], weight=weight, per_kg=True, max_key=("foscarnet", column))


# Cidofovir (clinical-reference §4, S-CDV-GLOBALRPH): start only if SCr ≤ 1.5 mg/dL AND
# calculated CrCl > 55 mL/min AND urine protein < 100 mg/dL (< 2+), all within 48 h.
CDV_MAX_SCR_MG_DL = 1.5
CDV_MAX_CRCL = 55


@pytest.mark.parametrize(
    ("phase", "rows"), [("induction", CDV_INDUCTION), ("maintenance", CDV_MAINTENANCE)]
)
@pytest.mark.parametrize(
    ("crcl", "row_index", "sex", "age", "weight", "unit"),
    [
        pytest.param(x, i, sex, age, weight, unit, id=f"{x:g}-{sex}-{age}y-{unit}")
        for x, i in ((120, 0), (55.01, 0), (55, 1), (30, 1), (5, 1))
        for sex, patients in PATIENTS.items()
        for age, weight in patients
        for unit in UNITS
    ],
)
def test_cidofovir_crcl_above_55(phase, rows, crcl, row_index, sex, age, weight, unit):
    """A dose only where the label allows one: SCr ≤ 1.5 mg/dL and CrCl > 55 mL/min (a
    CrCl just above 55 for these patients means SCr ≈ 1.6–2.0: contraindicated)."""
    scr_mg_dl = scr_for_crcl(crcl, age=age, weight=weight, sex=sex)
    d = cmvrx.dose(
        "cidofovir", phase=phase, as_of=AS_OF, weight_kg=weight, age_years=age, sex=sex,
        creatinine=in_unit(scr_mg_dl, unit), creatinine_unit=unit, urine_dipstick="negative",
    )  # fmt: skip
    if scr_mg_dl > CDV_MAX_SCR_MG_DL + 1e-9 or crcl <= CDV_MAX_CRCL:
        assert d.status == "not_recommended", d
        assert d.dose_mg is None and d.practical_mg is None
        assert ("SCr" in d.reason) or ("CrCl" in d.reason), d.reason
    else:
        check_dose(d, rows[row_index], weight=weight, per_kg=True, max_key=("cidofovir", phase))


def test_cidofovir_scr_2_is_contraindicated_in_a_quick_dose():
    """Issue 6 item 1: SCr 2.0 mg/dL, CrCl > 55 (age 20, 70 kg) gave 350 mg weekly."""
    d = cmvrx.dose(
        "cidofovir", phase="induction", as_of=AS_OF, weight_kg=70, age_years=20, sex="male",
        creatinine=2.0, urine_dipstick="negative",
    )  # fmt: skip
    assert d.status == "not_recommended" and d.dose_mg is None
    assert "SCr 2 > 1.5 mg/dL" in d.reason


@pytest.mark.parametrize(
    ("protein", "dipstick", "status"),
    [(None, None, "insufficient_data"), (150.0, None, "not_recommended"),
     (None, "2+", "not_recommended"), (20.0, None, "dose"), (None, "trace", "dose")],
)  # fmt: skip
def test_cidofovir_quick_dose_needs_urine_protein(protein, dipstick, status):
    d = cmvrx.dose(
        "cidofovir", phase="induction", as_of=AS_OF, weight_kg=70, age_years=50, sex="male",
        creatinine=1.0, urine_protein_mg_dl=protein, urine_dipstick=dipstick,
    )  # fmt: skip
    assert d.status == status, d
    assert (d.dose_mg is not None) == (status == "dose")
    if status == "insufficient_data":
        assert "urine protein" in d.measure
    if status == "dose":
        assert any("CNS" in item for item in d.not_checked)


@pytest.mark.parametrize(("age", "weight"), [(8, 30.0), (11.9, 50.0), (30, 34.9)])
def test_maribavir_quick_dose_below_label_age_or_weight_is_refused(age, weight):
    """Issue 6 item 1: maribavir is labelled for ≥ 12 years and ≥ 35 kg (S-MBV-LABEL)."""
    d = cmvrx.dose(
        "maribavir", phase="refractory_treatment", as_of=AS_OF, weight_kg=weight,
        age_years=age, sex="male",
    )  # fmt: skip
    assert d.status == "not_recommended" and d.dose_mg is None
    assert d.rule_id == "REF-MARIBAVIR-NOT-REFRACTORY"


def test_maribavir_quick_dose_in_label_population_lists_what_was_not_checked():
    d = cmvrx.dose(
        "maribavir", phase="refractory_treatment", as_of=AS_OF, weight_kg=70, age_years=40,
        sex="male",
    )  # fmt: skip
    assert d.status == "dose"
    assert any("REF-MARIBAVIR-NOT-REFRACTORY" in item for item in d.not_checked)
    assert any("REF-MARIBAVIR-CNS" in item for item in d.not_checked)


def test_valganciclovir_quick_dose_on_hemodialysis_is_refused_by_the_plan_rule():
    d = cmvrx.dose(
        "valganciclovir", phase="induction", as_of=AS_OF, weight_kg=70, age_years=50,
        sex="male", dialysis="intermittent_hemodialysis",
    )  # fmt: skip
    assert d.status == "not_recommended" and d.dose_mg is None


def test_infant_valganciclovir_prevention_with_birth_weight_given():
    """Every infant was refused: the quick dose had no way to say low birth weight."""
    common = {"weight_kg": 7.0, "age_years": 0.5, "sex": "male", "creatinine": 0.3}
    d = cmvrx.dose(
        "valganciclovir", phase="prevention", as_of=AS_OF, height_cm=65, low_birth_weight=False,
        **common,
    )  # fmt: skip
    assert d.status == "dose" and d.practical_mg is not None
    with pytest.raises(cmvrx.InsufficientDataError, match="low birth weight"):
        cmvrx.dose("valganciclovir", phase="prevention", as_of=AS_OF, height_cm=65, **common)


def test_adult_valganciclovir_prevention_says_what_is_supported():
    """Issue 6 item 11: the error was about pediatric height."""
    with pytest.raises(cmvrx.InputError) as caught:
        cmvrx.dose(
            "valganciclovir", phase="prevention", as_of=AS_OF, weight_kg=70, age_years=40,
            sex="male", creatinine=1.0, height_cm=175,
        )  # fmt: skip
    message = str(caught.value)
    assert caught.value.field == "phase"
    assert "only for children" in message and "Adult prevention" in message
    assert "height" not in message.split("(")[0]


@pytest.mark.parametrize("drug", ["foscarnet", "cidofovir"])
@pytest.mark.parametrize("phase", ["induction", "maintenance"])
def test_no_label_hemodialysis_dose_for_foscarnet_or_cidofovir(drug, phase):
    d = cmvrx.dose(
        drug, phase=phase, as_of=AS_OF, weight_kg=70, age_years=60, sex="male",
        dialysis="intermittent_hemodialysis",
    )  # fmt: skip
    assert d.status in ("not_recommended", "no_label_dose")
    assert d.dose_mg is None and d.practical_mg is None


# Hand-picked values a clinician would type, each exactly on a band edge. Before the
# clearance was rounded, floating point put several of these just below the edge
# (e.g. 24.999999999999996 mL/min → the lower band).
@pytest.mark.parametrize(
    ("drug", "phase", "column", "age", "weight", "sex", "scr", "unit", "dose", "interval"),
    [
        # female 68 y, 40 kg, SCr 1.36 mg/dL: CrCl = 72 × 40 × 0.85 / (72 × 1.36) = 25
        ("ganciclovir", "induction", None, 68, 40, "female", 1.36, "mg/dL", 2.5, "q24h"),
        ("ganciclovir", "induction", None, 68, 40, "female", 120.224, "umol/L", 2.5, "q24h"),
        ("ganciclovir", "maintenance", None, 68, 62.5, "female", 2.125, "mg/dL", 1.25, "q24h"),
        # female 68 y, 90 kg, SCr 7.65 mg/dL: CrCl = 90 × 0.85 / 7.65 = 10
        ("ganciclovir", "induction", None, 68, 90, "female", 7.65, "mg/dL", 1.25, "q24h"),
        ("ganciclovir", "maintenance", None, 68, 85, "female", 638.69, "umol/L", 0.625, "q24h"),
        # male 68 y, 70 kg, SCr 1.0: CrCl = 70 exactly
        ("ganciclovir", "induction", None, 68, 70, "male", 88.4, "umol/L", 5.0, "q12h"),
        # valganciclovir: male 68 y, 60 kg, SCr 1.0 → 60; female 1.275 → 40
        ("valganciclovir", "induction", None, 68, 60, "male", 1.0, "mg/dL", 900, "twice daily"),
        ("valganciclovir", "induction", None, 68, 60, "female", 1.275, "mg/dL", 450, "twice daily"),
        # foscarnet: female 68 y, SCr 2.125 → 0.85/2.125 = 0.4 mL/min/kg (in the 0.4–0.5 band)
        ("foscarnet", "induction", "60_q8h", 68, 70, "female", 2.125, "mg/dL", 50, "q24h"),
        ("foscarnet", "maintenance", "120_per_day", 68, 70, "female", 187.85, "umol/L", 65, "q48h"),
        # female 68 y, SCr 1.7 → 0.5 (0.4–0.5 band, not > 0.5–0.6)
        ("foscarnet", "maintenance", "90_per_day", 68, 70, "female", 1.7, "mg/dL", 50, "q48h"),
        # male 39.2 y, SCr 1.0 → 100.8 / 72 = 1.4 (> 1.0–1.4 band, not > 1.4)
        ("foscarnet", "induction", "90_q12h", 39.2, 70, "male", 1.0, "mg/dL", 70, "q12h"),
    ],
)
def test_typed_values_exactly_on_an_edge(
    drug, phase, column, age, weight, sex, scr, unit, dose, interval
):
    d = cmvrx.dose(
        drug, phase=phase, as_of=AS_OF, weight_kg=weight, age_years=age, sex=sex,
        creatinine=scr, creatinine_unit=unit, column=column,
    )  # fmt: skip
    assert d.status == "dose"
    assert (d.dose_per_kg if d.dose_unit == "mg/kg" else d.dose_mg) == dose
    assert d.interval == interval
