"""Shared Hypothesis strategies for cmvrx tests.

Values stay inside the knowledge's plausibility bounds (parameters.toml ``[[plausible]]``:
age 0–120 a, weight 0.4–350 kg, height 30–250 cm, SCr 0.1–25 mg/dL), so a drawn
patient is never refused as implausible; adults are ≥ 18 years (the NOT CONFIRMED
pediatric age limit), children 1 to < 18 years.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from cmvrx.model.patient import DiseaseSite

AS_OF = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
"""A fixed, timezone-aware ``as_of`` (tests never read the wall clock)."""

UMOL_PER_MG = 88.4  # creatinine: 1 mg/dL = 88.4 µmol/L (clinical-reference §7.4)


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


sexes = st.sampled_from(["male", "female"])

adult_ages = _floats(18.0, 100.0)
child_ages = _floats(1.0, 17.9)
ages = _floats(0.0, 120.0)

adult_weights_kg = _floats(35.0, 200.0)
weights_kg = _floats(0.5, 350.0)

adult_heights_cm = _floats(140.0, 210.0)
child_heights_cm = _floats(60.0, 190.0)
heights_cm = _floats(30.0, 250.0)

creatinine_mg_dl = _floats(0.2, 20.0)
creatinine_umol_l = creatinine_mg_dl.map(lambda mg: mg * UMOL_PER_MG)

creatinine_with_unit: st.SearchStrategy[tuple[float, str]] = st.one_of(
    creatinine_mg_dl.map(lambda v: (v, "mg/dL")),
    creatinine_umol_l.map(lambda v: (v, "umol/L")),
    creatinine_umol_l.map(lambda v: (v, "µmol/L")),
)
"""(value, unit) pairs for serum creatinine in either accepted unit."""

crcl_ml_min = _floats(0.0, 250.0)
crcl_ml_min_per_kg = _floats(0.0, 4.0)

# Renal-dosed adult drugs, their phases and label columns as ``cmvrx.dose`` takes them.
ADULT_DOSE_CHOICES: tuple[tuple[str, str, str | None], ...] = (
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
)
adult_dose_choices = st.sampled_from(ADULT_DOSE_CHOICES)

dialysis_states = st.sampled_from(["none", "intermittent_hemodialysis", "crrt", "peritoneal"])


@st.composite
def adult_patients(draw: st.DrawFn) -> dict[str, object]:
    """Keyword arguments for ``cmvrx.dose`` describing one adult (no drug/phase)."""
    value, unit = draw(creatinine_with_unit)
    return {
        "age_years": draw(adult_ages),
        "weight_kg": draw(adult_weights_kg),
        "sex": draw(sexes),
        "creatinine": value,
        "creatinine_unit": unit,
    }


# --- whole cases, for plan() properties -------------------------------------------------

DISEASE_SITES = tuple(s.value for s in DiseaseSite)
MEDICATIONS = (
    "tacrolimus",
    "cyclosporine",
    "mycophenolate",
    "prednisone",
    "letermovir",
    "sirolimus",
    "trimethoprim-sulfamethoxazole",
    "acyclovir",
)
MUTATIONS = (
    {"gene": "UL97", "mutation": "A594V"},
    {"gene": "UL97", "mutation": "C480F"},
    {"gene": "UL97", "mutation": "H411Y"},
    {"gene": "UL54", "mutation": "L501I", "resistant_to": ["ganciclovir", "cidofovir"]},
    {"gene": "UL54", "mutation": "V715M", "resistant_to": ["foscarnet"]},
    {"gene": "UL56", "mutation": "C325Y"},
    {"gene": "UL27", "mutation": "L335P"},
)


def _measured(value: float, unit: str, hours_ago: float) -> dict[str, object]:
    from datetime import timedelta

    return {
        "value": value,
        "unit": unit,
        "measured_at": (AS_OF - timedelta(hours=hours_ago)).isoformat(),
    }


@st.composite
def cases(draw: st.DrawFn, *, adult: bool | None = None) -> dict[str, object]:
    """A complete, plausible case mapping (the documented case format)."""
    is_adult = draw(st.booleans()) if adult is None else adult
    age = draw(adult_ages if is_adult else child_ages)
    sex = draw(sexes)
    height = draw(adult_heights_cm if is_adult else child_heights_cm)
    # a child's weight from a BMI that a child can have (impossible sizes are refused)
    weight = draw(adult_weights_kg if is_adult else _floats(12.0, 30.0).map(
        lambda bmi: round(max(8.0, min(90.0, bmi * (height / 100) ** 2)), 2)
    ))  # fmt: skip
    if age < 2:
        weight = min(weight, 25.0)  # heights are drawn independently of age
    scr_value, scr_unit = draw(creatinine_with_unit)
    dialysis = draw(dialysis_states)
    renal: dict[str, object] = {"dialysis": dialysis}
    if dialysis == "none" or draw(st.booleans()):
        renal["serum_creatinine"] = _measured(scr_value, scr_unit, draw(_floats(0.0, 48.0)))
    case: dict[str, object] = {
        "case_id": "hypothesis",
        "patient": {
            "age": {"value": age, "unit": "a"},
            "sex": sex,
            "weight": {"value": weight, "unit": "kg"},
            "height": {"value": height, "unit": "cm"},
            "pregnant": draw(st.sampled_from([None, False, True])) if sex == "female" else None,
        },
        "renal": renal,
        "disease": {
            "sites": draw(
                st.lists(st.sampled_from(DISEASE_SITES), min_size=1, max_size=4, unique=True)
            ),
            "retinitis_sight_threatening": draw(st.sampled_from([None, False, True])),
            "refractory": draw(st.sampled_from([None, False, True])),
        },
        "medications": draw(st.lists(st.sampled_from(MEDICATIONS), max_size=4, unique=True)),
        "resistance_mutations": draw(
            st.lists(st.sampled_from(range(len(MUTATIONS))), max_size=3, unique=True).map(
                lambda idx: [MUTATIONS[i] for i in idx]
            )
        ),
        "blood_counts": {
            "anc": _measured(draw(_floats(100.0, 8000.0)), "/uL", 6),
            "platelets": _measured(draw(_floats(10000.0, 400000.0)), "/uL", 6),
            "hemoglobin": _measured(draw(_floats(6.0, 16.0)), "g/dL", 6),
        },
        "oral": draw(
            st.sampled_from(
                [
                    None,
                    {"can_take_oral": True, "can_absorb_oral": True},
                    {"can_take_oral": True, "can_absorb_oral": False},
                ]
            )
        ),
        "foscarnet_induction_column": draw(st.sampled_from(["60_q8h", "90_q12h"])),
        "foscarnet_maintenance_column": draw(st.sampled_from(["90_per_day", "120_per_day"])),
    }
    if draw(st.booleans()):
        case["transplant"] = {"kind": draw(st.sampled_from(["hsct", "sot"]))}
    else:
        case["hiv"] = {"status": "positive", "on_art": draw(st.booleans())}
    return case


# --- cases for the whole-plan properties of issue 7, infants and children included ------

INDUCERS = ("carbamazepine", "phenytoin", "phenobarbital")


@st.composite
def infants(draw: st.DrawFn) -> dict[str, object]:
    """The ``patient`` part of an infant (0–1 year, 0.5–12 kg, 30–80 cm)."""
    return {
        "age": {"value": draw(_floats(0.0, 11.9)), "unit": "mo"},
        "sex": draw(sexes),
        "weight": {"value": draw(_floats(0.5, 12.0)), "unit": "kg"},
        "height": {"value": draw(_floats(30.0, 80.0)), "unit": "cm"},
        "low_birth_weight_for_gestational_age": draw(st.sampled_from([None, False, True])),
    }


@st.composite
def plan_cases(draw: st.DrawFn) -> dict[str, object]:
    """Any valid case: ``cases()`` widened to infants, congenital status, enzyme inducers,
    electrolytes, HIV CD4 and (adults only) a weight basis."""
    case = draw(cases())
    if draw(st.integers(0, 3)) == 0:
        case["patient"] = draw(infants())
    disease = dict(case["disease"])
    disease["congenital"] = draw(st.sampled_from([None, False, True]))
    case["disease"] = disease
    meds = list(case["medications"])
    meds += draw(st.lists(st.sampled_from(INDUCERS), max_size=1))
    case["medications"] = meds
    if draw(st.booleans()):
        case["electrolytes"] = {
            "potassium": _measured(draw(_floats(2.5, 5.5)), "mmol/L", 6),
            "magnesium": _measured(draw(_floats(0.4, 1.2)), "mmol/L", 6),
            "ionized_calcium": _measured(draw(_floats(0.8, 1.4)), "mmol/L", 6),
            "phosphate": _measured(draw(_floats(0.4, 1.8)), "mmol/L", 6),
        }
    if "hiv" in case and draw(st.booleans()):
        hiv = dict(case["hiv"])
        hiv["cd4"] = _measured(draw(_floats(0.0, 900.0)), "/uL", 48)
        case["hiv"] = hiv
    age = case["patient"]["age"]
    if age["unit"] == "a" and age["value"] >= 18:
        case["weight_basis"] = draw(st.sampled_from(["actual", "ideal", "adjusted"]))
    return case
