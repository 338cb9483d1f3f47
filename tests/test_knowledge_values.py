"""Knowledge values no other test reached, each checked against the label or guideline.

Every expected number below is written from clinical-reference.md (the section is named
on each table), NOT read from the knowledge files or from the program's output, so a
wrong number in src/cmvrx/knowledge/data fails here (tests/mutation/ proves it, value by
value). Thresholds are hit on both sides; the pediatric eGFR edge at and around 70.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import cmvrx
from cmvrx.cli.main import app
from cmvrx.errors import ContradictoryInputError

T = datetime(2026, 11, 24, 12, tzinfo=UTC)
CASES = Path(__file__).parent / "cases"
ADULT: dict[str, Any] = {"weight_kg": 70, "age_years": 50, "sex": "male", "creatinine": 1.0}


def vignette_case(stem: str) -> tuple[dict[str, Any], datetime]:
    data = yaml.safe_load((CASES / f"{stem}.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(data["case"]), datetime.fromisoformat(data["as_of"])


def plan(case: dict[str, Any], as_of: datetime) -> dict[str, Any]:
    result: dict[str, Any] = cmvrx.plan(case, as_of=as_of).to_dict()
    return result


# --- maribavir and letermovir: fixed doses and co-medications (ref. §5, §6) ----------

#: (medications, mg per dose, interval): Livtencity label §2 (ref. §6, grade A).
MARIBAVIR = [
    ((), 400, "twice daily"),
    (("carbamazepine",), 800, "twice daily"),
    (("phenytoin",), 1200, "twice daily"),
    (("phenobarbital",), 1200, "twice daily"),
]
#: The highest labelled daily dose: 1,200 mg twice daily.
MARIBAVIR_MAX_PER_DAY = 2400
#: Prevymis label §2.1–2.2 (ref. §5, grade A): 480 mg once daily; 240 mg with cyclosporine.
LETERMOVIR = [
    ((), 480, "once daily"),
    (("cyclosporine",), 240, "once daily"),
    (("ciclosporin",), 240, "once daily"),
]
LETERMOVIR_MAX_PER_DAY = 480
PER_DAY = {"twice daily": 2, "once daily": 1}


@pytest.mark.parametrize(("meds", "mg", "interval"), MARIBAVIR)
def test_maribavir_dose_through_cmvrx_dose(meds: tuple[str, ...], mg: int, interval: str) -> None:
    d = cmvrx.dose("maribavir", phase="refractory_treatment", as_of=T, medications=meds, **ADULT)
    assert (d.status, d.practical_mg, d.interval) == ("dose", mg, interval)
    assert d.per_day == mg * PER_DAY[interval]
    assert d.max_per_day == MARIBAVIR_MAX_PER_DAY


@pytest.mark.parametrize(("meds", "mg", "interval"), LETERMOVIR)
def test_letermovir_dose_through_cmvrx_dose(meds: tuple[str, ...], mg: int, interval: str) -> None:
    d = cmvrx.dose("letermovir", phase="prophylaxis", as_of=T, medications=meds, **ADULT)
    assert (d.status, d.practical_mg, d.interval) == ("dose", mg, interval)
    assert d.per_day == mg * PER_DAY[interval]
    assert d.max_per_day == LETERMOVIR_MAX_PER_DAY


@pytest.mark.parametrize(
    ("drug", "phase", "meds", "mg", "interval"),
    [("maribavir", "refractory_treatment", *row) for row in MARIBAVIR]
    + [("letermovir", "prophylaxis", *row) for row in LETERMOVIR],
)
def test_fixed_doses_printed_by_the_cli(
    drug: str, phase: str, meds: tuple[str, ...], mg: int, interval: str
) -> None:
    args = ["dose", drug, "--phase", phase, "--weight", "70", "--creatinine", "1.0"]
    args += ["--age", "50", "--sex", "male", "--json"]
    for med in meds:
        args += ["--medication", med]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    dose = json.loads(result.stdout)["dose"]
    assert (dose["practical_mg"], dose["interval"]) == (mg, interval)


@pytest.mark.parametrize(("meds", "mg", "interval"), MARIBAVIR)
def test_maribavir_dose_through_the_plan(meds: tuple[str, ...], mg: int, interval: str) -> None:
    case, as_of = vignette_case("mbv_01_refractory_hsct_eligible")
    case["medications"] = list(meds)
    alerts = {a["rule_id"]: a["message"] for a in plan(case, as_of)["alerts"]}
    assert f"maribavir {mg} mg {interval} " in alerts["ALR-MARIBAVIR-OPTION"]


def test_letermovir_with_cyclosporine_through_the_plan() -> None:
    """Prophylaxis is not treatment: the plan never doses letermovir, whatever the
    co-medication (seed; ref. §5 'Not for treatment')."""
    case, as_of = vignette_case("noncns_04_pneumonitis_hsct_letermovir_cyclosporine")
    p = plan(case, as_of)
    assert "letermovir" not in {d["drug"] for d in p["regimen"]["induction"]}


# --- maribavir eligibility: ≥ 12 years and ≥ 35 kg (ref. §6, grade A) -------------------


@pytest.mark.parametrize(
    ("age", "weight", "eligible"),
    [(12, 35, True), (11.9, 60, False), (30, 34.9, False), (12.1, 35.1, True)],
)
def test_maribavir_age_and_weight_limits(age: float, weight: float, eligible: bool) -> None:
    case, as_of = vignette_case("mbv_01_refractory_hsct_eligible")
    case["patient"]["age"] = {"value": age, "unit": "a"}
    case["patient"]["weight"] = {"value": weight, "unit": "kg"}
    case["patient"].setdefault("height", {"value": 150, "unit": "cm"})
    p = plan(case, as_of)
    refused = {r["drug"] for r in p["refused"]}
    assert ("maribavir" not in refused) is eligible
    assert ("ALR-MARIBAVIR-OPTION" in {a["rule_id"] for a in p["alerts"]}) is eligible


# --- valganciclovir pediatric maximum 900 mg (ref. §2.4, grade A/B) ---------------------


def test_valganciclovir_pediatric_dose_is_capped_at_900_mg() -> None:
    # 7 × BSA 1.87 × CrCl 150 (cap) ≈ 1,964 mg: above the label maximum of 900 mg.
    d = cmvrx.dose(
        "valganciclovir", phase="prevention", as_of=T, weight_kg=70, age_years=16,
        sex="male", creatinine=0.3, height_cm=180,
    )  # fmt: skip
    assert (d.dose_mg, d.practical_mg, d.max_per_day) == (900, 900, 900)
    assert "CrCl 150.0 mL/min/1.73 m² (k 0.7, cap 150)" in d.renal_basis  # boys 13–16 y: k 0.7


# --- the pediatric eGFR edge, 70 mL/min/1.73 m², both sides (ref. §1.6, §9.6) -----------

#: (creatinine mg/dL, height 100 cm): bedside Schwartz 0.413 × 100 / SCr.
EGFR_69_4, EGFR_70_EXACTLY, EGFR_70_6 = 0.595, 0.59, 0.585
PEDIATRIC = [
    ("ganciclovir", "induction", 5.0, "q12h"),
    ("ganciclovir", "maintenance", 5.0, "q24h"),
    ("foscarnet", "induction", 60.0, "q8h"),
    ("foscarnet", "maintenance", 90.0, "q24h"),
]


@pytest.mark.parametrize(("drug", "phase", "per_kg", "interval"), PEDIATRIC)
@pytest.mark.parametrize(
    ("scr", "full_dose"), [(EGFR_69_4, False), (EGFR_70_EXACTLY, True), (EGFR_70_6, True)]
)
def test_pediatric_full_dose_only_from_egfr_70(
    drug: str, phase: str, per_kg: float, interval: str, scr: float, full_dose: bool
) -> None:
    d = cmvrx.dose(
        drug, phase=phase, as_of=T, weight_kg=20, age_years=6, sex="female",
        creatinine=scr, height_cm=100,
    )  # fmt: skip
    if full_dose:
        assert (d.status, d.dose_per_kg, d.interval) == ("dose", per_kg, interval)
    else:
        assert d.status == "not_recommended"
        assert d.practical_mg is None


# --- safety thresholds, both sides ------------------------------------------------------


@pytest.mark.parametrize(("anc", "daily_cbc"), [(999, True), (1000, False)])
def test_daily_cbc_below_anc_1000(anc: int, daily_cbc: bool) -> None:
    """Daily CBC if baseline ANC < 1,000/µL (ref. §1.5, UK SmPC wording)."""
    case, as_of = vignette_case("gcvx_06_counts_exactly_at_thresholds")
    case["blood_counts"]["anc"]["value"] = anc
    ids = {a["rule_id"] for a in plan(case, as_of)["alerts"]}
    assert ("ALR-GANCICLOVIR-LOW-ANC-FREQUENT-CBC" in ids) is daily_cbc


@pytest.mark.parametrize(
    ("analyte", "low", "normal"),
    [
        ("ionized_calcium", 1.09, 1.1),
        ("potassium", 3.49, 3.5),
        ("magnesium", 0.69, 0.7),
        ("phosphate", 0.79, 0.8),
    ],
)
def test_foscarnet_low_electrolyte_thresholds(analyte: str, low: float, normal: float) -> None:
    """Foscarnet low-electrolyte limits (knowledge parameters foscarnet_low_*, ref. §3.6)."""
    case, as_of = vignette_case("cns_02_ventriculitis_hsct_fos90")
    for value, alerted in ((low, True), (normal, False)):
        case["electrolytes"][analyte]["value"] = value
        alerts = {a["rule_id"]: a["message"] for a in plan(case, as_of)["alerts"]}
        hit = any(analyte.replace("_", " ") in m for m in alerts.values() if "Low" in m)
        assert hit is alerted, (analyte, value, alerts)


@pytest.mark.parametrize(("crcl", "contradiction"), [(29.9, False), (30, True)])
def test_hemodialysis_with_measured_crcl_30_is_contradictory(
    crcl: float, contradiction: bool
) -> None:
    case, as_of = vignette_case("input_07_hemodialysis_crcl_90")
    case["renal"]["measured_creatinine_clearance"]["value"] = crcl
    if contradiction:
        with pytest.raises(ContradictoryInputError):
            cmvrx.plan(case, as_of=as_of)
    else:
        assert plan(case, as_of)["regimen"] is not None


@pytest.mark.parametrize(("age", "asked"), [(9.9, False), (10, True)])
def test_pregnancy_test_from_age_10(age: float, asked: bool) -> None:
    case, as_of = vignette_case("gcvx_06_counts_exactly_at_thresholds")
    case["patient"]["sex"] = "female"
    case["patient"]["age"] = {"value": age, "unit": "a"}
    case["patient"]["weight"] = {"value": 30, "unit": "kg"}
    case["patient"]["height"] = {"value": 135, "unit": "cm"}
    case["renal"]["serum_creatinine"]["value"] = 0.5
    p = plan(case, as_of)
    assert ("MON-PREGNANCY-TEST" in {m["rule_id"] for m in p["monitoring"]}) is asked


# --- infusion times (ref. §1.2, §4, §5) --------------------------------------------------

#: Label minimum infusion time in minutes: ganciclovir 1 h, cidofovir 1 h, letermovir 1 h.
LABEL_INFUSION_MIN = {"ganciclovir": 60, "cidofovir": 60, "letermovir": 60}


@pytest.mark.parametrize(
    ("drug", "phase"),
    [("ganciclovir", "induction"), ("cidofovir", "induction"), ("letermovir", "prophylaxis")],
)
def test_infusion_time_is_the_label_hour(drug: str, phase: str) -> None:
    # cidofovir's quick dose needs the urine protein its label requires (boxed warning)
    urine = {"urine_dipstick": "negative"} if drug == "cidofovir" else {}
    d = cmvrx.dose(drug, phase=phase, as_of=T, **ADULT, **urine)
    assert f"infuse over {LABEL_INFUSION_MIN[drug]} min" in d.infusion


def test_knowledge_infusion_times_are_at_least_the_labels() -> None:
    k = cmvrx.load_knowledge()
    for drug, minimum in LABEL_INFUSION_MIN.items():
        a = k.drug(drug).administration
        assert a.infusion_minutes_min == minimum, drug
        assert (a.infusion_minutes_default or minimum) >= minimum, drug


def test_foscarnet_infusion_two_hours_and_rate_limit() -> None:
    """Seed: 2 h is the safe default; label: no faster than 1 mg/kg/min (ref. §3.4)."""
    d = cmvrx.dose("foscarnet", phase="induction", as_of=T, **ADULT)
    assert "infuse over 120 min" in d.infusion
    assert any("no faster than 1 mg/kg/min" in line for line in d.infusion)


# --- products and preparation (ref. §1.2, §2.1, §3.4, §6) --------------------------------


def test_ganciclovir_vial_reconstitution_and_final_concentration() -> None:
    """500 mg vial + 10 mL sterile water ≈ 50 mg/mL; final ≤ 10 mg/mL (ref. §1.2)."""
    d = cmvrx.dose("ganciclovir", phase="induction", as_of=T, **ADULT)  # 350 mg
    assert "1 × 500 mg vial(s), each reconstituted with 10 mL (50 mg/mL)" in d.infusion
    assert "final concentration ≤ 10 mg/mL: at least 35 mL of diluent" in d.infusion


def test_foscarnet_central_and_peripheral_concentrations() -> None:
    """24 mg/mL undiluted centrally, diluted to 12 mg/mL peripherally (ref. §3.4)."""
    d = cmvrx.dose("foscarnet", phase="induction", as_of=T, **ADULT)
    mg = d.practical_mg
    assert mg is not None
    assert f"central line: 24 mg/mL undiluted = {mg / 24:.0f} mL" in d.infusion
    assert f"peripheral line: dilute to 12 mg/mL = {mg / 12:.0f} mL" in d.infusion


@pytest.mark.parametrize(
    ("drug", "phase", "tablets"),
    [
        ("valganciclovir", "induction", "2 × 450 mg tablet(s)"),  # 900 mg, ref. §2.1-2.2
        ("maribavir", "refractory_treatment", "2 × 200 mg tablet(s)"),  # 400 mg, ref. §6
    ],
)
def test_tablet_strengths(drug: str, phase: str, tablets: str) -> None:
    assert tablets in cmvrx.dose(drug, phase=phase, as_of=T, **ADULT).infusion


def test_valganciclovir_pediatric_oral_solution_is_50_mg_per_ml() -> None:
    d = cmvrx.dose(
        "valganciclovir", phase="prevention", as_of=T, weight_kg=18, age_years=5,
        sex="female", creatinine=0.4, height_cm=110,
    )  # fmt: skip
    assert any("oral solution 50 mg/mL" in line for line in d.instructions)


@pytest.mark.parametrize(
    ("column", "phase", "per_kg", "volume"),
    [
        ("60_q8h", "induction", 45.0, "500 mL"),  # 40–60 mg/kg → 500 mL
        ("120_per_day", "maintenance", 90.0, "750–1000 mL"),  # 90–120 mg/kg → 750–1000 mL
    ],
)
def test_foscarnet_hydration_volumes(column: str, phase: str, per_kg: float, volume: str) -> None:
    """Label (ref. §3.5): 750–1000 mL before the first infusion; then 750–1000 mL with
    90–120 mg/kg doses, 500 mL with 40–60 mg/kg doses."""
    d = cmvrx.dose("foscarnet", phase=phase, column=column, as_of=T, **ADULT)
    assert d.dose_per_kg == per_kg
    assert d.hydration[0].startswith("before the first infusion: 750–1000 mL")
    assert d.hydration[1].startswith(f"with each infusion of {per_kg:g} mg/kg: {volume} ")


@pytest.mark.parametrize(
    ("column", "phase", "scr", "per_kg", "volume"),
    [
        # CrCl/kg = (140 − 50) / (72 × SCr): SCr 1.8 → 0.69 (0.6–0.8 row), 0.8 → 1.56 (> 1.4)
        ("60_q8h", "induction", 1.8, 40.0, "500 mL"),
        ("60_q8h", "induction", 0.8, 60.0, "500 mL"),
        ("90_q12h", "induction", 0.8, 90.0, "750–1000 mL"),
        ("120_per_day", "maintenance", 0.8, 120.0, "750–1000 mL"),
    ],
)
def test_foscarnet_hydration_at_the_ends_of_each_label_dose_range(
    column: str, phase: str, scr: float, per_kg: float, volume: str
) -> None:
    """The label's hydration ranges are inclusive: 40 and 60 mg/kg → 500 mL; 90 and 120
    mg/kg → 750–1000 mL (ref. §3.5)."""
    args = {**ADULT, "creatinine": scr}
    d = cmvrx.dose("foscarnet", phase=phase, column=column, as_of=T, **args)
    assert d.dose_per_kg == per_kg
    assert f"with each infusion of {per_kg:g} mg/kg: {volume} " in d.hydration[1]


@pytest.mark.parametrize(
    ("scr", "calculated", "practical", "tablet"),
    [
        # girl 10 y, 140 cm, 30 kg: 7 × BSA 1.080 × (0.55 × 140 / SCr)
        (1.439, 404.6, 400, False),
        (1.436, 405.4, 400, True),
        (1.177, 494.6, 500, True),
        (1.175, 495.5, 500, False),
    ],
)
def test_valganciclovir_pediatric_tablet_only_within_10_percent_of_450(
    scr: float, calculated: float, practical: float, tablet: bool
) -> None:
    """Tablets only if the calculated dose is within ±10 % of 450 mg (405–495 mg); the
    dose is rounded to the nearest 25 mg (ref. §2.4)."""
    d = cmvrx.dose(
        "valganciclovir", phase="prevention", as_of=T, weight_kg=30, age_years=10,
        sex="female", creatinine=scr, height_cm=140,
    )  # fmt: skip
    assert (d.dose_mg, d.practical_mg) == (calculated, practical)
    assert d.instructions[0].startswith("450 mg tablet allowed" if tablet else "oral solution")


# --- start criteria on both sides (ref. §1.4, §4) ----------------------------------------


def _induction_drugs(case: dict[str, Any], as_of: datetime) -> set[str]:
    return {d["drug"] for d in plan(case, as_of)["regimen"]["induction"]}


@pytest.mark.parametrize(
    ("count", "below", "at"),
    [("anc", 499, 500), ("platelets", 24999, 25000), ("hemoglobin", 7.9, 8.0)],
)
def test_ganciclovir_start_thresholds(count: str, below: float, at: float) -> None:
    """Do not start ganciclovir with ANC < 500/µL, platelets < 25,000/µL or Hb < 8 g/dL
    (ref. §1.4, grade A): at the threshold it may start, just below it may not."""
    case, as_of = vignette_case("gcvx_06_counts_exactly_at_thresholds")
    for value, allowed in ((at, True), (below, False)):
        case["blood_counts"][count]["value"] = value
        assert ("ganciclovir" in _induction_drugs(case, as_of)) is allowed, (count, value)


@pytest.mark.parametrize(
    ("change", "eligible"),
    [
        ({"scr": 1.5}, True),  # SCr ≤ 1.5 mg/dL (CrCl 100 × 70 / 108 = 64.8 > 55)
        ({"scr": 1.6}, False),
        ({"protein": 99}, True),  # urine protein < 100 mg/dL
        ({"protein": 100}, False),
    ],
)
def test_cidofovir_start_criteria(change: dict[str, float], eligible: bool) -> None:
    """Cidofovir only if SCr ≤ 1.5 mg/dL, CrCl > 55 mL/min, urine protein < 100 mg/dL (ref. §4)."""
    case, as_of = vignette_case("cdv_01_retinitis_third_line_eligible")
    if "scr" in change:
        case["renal"]["serum_creatinine"]["value"] = change["scr"]
    if "protein" in change:
        case["renal"]["urine_protein"]["quantity"]["value"] = change["protein"]
    assert ("cidofovir" in _induction_drugs(case, as_of)) is eligible


#: The label maximum per day of each schedule (mg/kg/day for IV drugs, mg/day orally):
#: the highest labelled dose × administrations per day (ref. §1.1, §1.6, §2.2, §3.1, §4,
#: §5, §6, §9.6). Cidofovir: 5 mg/kg once weekly / every 2 weeks, as a daily average.
LABEL_MAX_PER_DAY = {
    "ganciclovir.induction": 10.0,  # 5 mg/kg q12h
    "ganciclovir.maintenance": 5.0,  # 5 mg/kg q24h
    "ganciclovir.induction.pediatric": 10.0,
    "ganciclovir.maintenance.pediatric": 5.0,
    "valganciclovir.induction": 1800,  # 900 mg twice daily
    "valganciclovir.maintenance": 900,
    "foscarnet.induction.60_q8h": 180,  # 60 mg/kg q8h
    "foscarnet.induction.90_q12h": 180,  # 90 mg/kg q12h
    "foscarnet.maintenance.90_per_day": 90,
    "foscarnet.maintenance.120_per_day": 120,
    "foscarnet.induction.pediatric": 180,
    "foscarnet.maintenance.pediatric": 120,  # 90–120 mg/kg once daily
    "cidofovir.induction": 5 / 7,
    "cidofovir.maintenance": 5 / 14,
    "letermovir.prophylaxis": 480,
    "maribavir.refractory_treatment": 2400,  # 1,200 mg twice daily with phenytoin
}


def test_every_schedule_maximum_is_the_labels() -> None:
    schedules = cmvrx.load_knowledge().schedules
    assert set(LABEL_MAX_PER_DAY) <= set(schedules)  # a new schedule: the mutation run asks
    for sid, expected in LABEL_MAX_PER_DAY.items():
        assert schedules[sid].max_per_day == pytest.approx(expected, rel=1e-9), sid
