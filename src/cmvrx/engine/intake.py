"""Turn a validated ``Case`` into ``Facts``: internal units, plausibility, staleness.

Refuses (``InputError`` subclasses naming the field) what can never yield a dose:
unknown units, implausible values, contradictions, measurements dated after
``as_of``. Missing or stale values are not errors here; they are kept as ``None``
with the reason, so that each drug that needs them can say "insufficient data:
measure X" while the rest of the plan still stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from cmvrx.engine.body_size import check_body_size
from cmvrx.errors import ContradictoryInputError, ImplausibleValueError, InputError
from cmvrx.frozen import fast_init
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.patient import Case, Measurement, Quantity
from cmvrx.units import INTERNAL_UNIT, converters, to_internal


class Reading(NamedTuple):
    """A measured value in internal units, its age, and whether it is fresh enough.

    A named tuple, not a frozen dataclass: a plan reads ten of them, and a tuple is
    built at a third of the cost; it is as immutable."""

    value: float
    measured_at: datetime
    age_hours: float
    fresh: bool


@fast_init
@dataclass(frozen=True, slots=True)
class Facts:
    case: Case
    as_of: datetime
    age_years: float
    sex: str
    weight_kg: float
    height_cm: float | None
    creatinine: Reading | None
    measured_clearance: Reading | None
    anc: Reading | None
    platelets: Reading | None
    hemoglobin: Reading | None
    potassium: Reading | None
    magnesium: Reading | None
    ionized_calcium: Reading | None
    phosphate: Reading | None
    cd4: Reading | None
    urine_protein_mg_dl: float | None
    urine_dipstick: str | None
    urine_protein_fresh: bool
    baseline_creatinine_mg_dl: float | None
    medications: frozenset[str]
    sites: frozenset[str]  # disease site names: nearly every rule reads them
    # freshness limits applied when they are not the knowledge's parameters (a course
    # applies its monitoring cadence): messages name the limit actually used
    creatinine_limit_hours: float | None = None
    blood_count_limit_hours: float | None = None


#: The freshness limits and the HD contradiction limit (``Knowledge.numbers_of`` key).
_LIMITS = (
    "numbers",
    "creatinine_max_age_hours",
    "blood_count_max_age_hours",
    "hemodialysis_contradiction_crcl",
)
_new_reading = tuple.__new__  # Reading(...) without the named tuple's Python __new__
#: kind -> {unit -> converter} (``units.converters``), for the ten readings of a plan
_CONVERT = {kind: converters(kind) for kind in INTERNAL_UNIT}


def _plausible(k: Knowledge, field: str, value: float) -> float:
    bounds = k.plausible.get(field)
    if bounds is not None and not bounds.min <= value <= bounds.max:
        raise ImplausibleValueError(
            f"{value:g} {bounds.unit} is outside the plausible range "
            f"{bounds.min:g}–{bounds.max:g} {bounds.unit}",
            field=field,
        )
    return value


def _quantity(k: Knowledge, q: Quantity, kind: str, field: str) -> float:
    convert = _CONVERT[kind].get(q.unit)
    value = convert(q.value) if convert else to_internal(q.value, q.unit, kind, field=field)
    if value < 0:
        raise ImplausibleValueError(f"{q.value:g} {q.unit} cannot be negative", field=field)
    return _plausible(k, field, value)


def _reading(
    k: Knowledge, m: Measurement | None, kind: str, field: str, as_of: datetime, max_age_h: float
) -> Reading | None:
    """A measurement read: unit converted, not negative, plausible, dated before ``as_of``.
    (``_quantity``, ``_plausible`` and the converter lookup inlined: a plan reads ten of
    these; an unknown unit goes to ``to_internal`` for its error.)"""
    if m is None:
        return None
    convert = _CONVERT[kind].get(m.unit)
    value = convert(m.value) if convert else to_internal(m.value, m.unit, kind, field=field)
    if value < 0:
        raise ImplausibleValueError(f"{m.value:g} {m.unit} cannot be negative", field=field)
    bounds = k.plausible.get(field)
    if bounds is not None and not bounds.min <= value <= bounds.max:
        _plausible(k, field, value)  # raises, with the message
    measured_at = m.measured_at
    if measured_at.tzinfo is None or as_of.tzinfo is None:
        raise InputError(
            "timestamps must carry a time zone (e.g. 2026-11-24T08:00:00Z)", field=field
        )
    age_h = (as_of - measured_at).total_seconds() / 3600
    if age_h < 0:
        raise InputError(f"measured at {measured_at.isoformat()}, after as_of", field=field)
    return _new_reading(Reading, (value, measured_at, age_h, age_h <= max_age_h))


def read_facts(
    case: Case,
    k: Knowledge,
    as_of: datetime,
    *,
    creatinine_max_age_hours: float | None = None,
    blood_count_max_age_hours: float | None = None,
) -> Facts:
    """Normalise and check ``case`` at ``as_of``; raise ``InputError`` on bad input.

    ``creatinine_max_age_hours`` replaces the knowledge's freshness limit for creatinine
    (course follow-up passes the monitoring cadence of the current phase)."""
    p = case.patient
    age = _quantity(k, p.age, "age", "patient.age")
    weight = _quantity(k, p.weight, "mass", "patient.weight")
    if weight <= 0:
        raise ImplausibleValueError("weight must be above zero", field="patient.weight")
    height = _quantity(k, p.height, "length", "patient.height") if p.height else None
    check_body_size(k, age_years=age, weight_kg=weight, height_cm=height)
    scr_limit, cbc_limit, hd_crcl = k.numbers_of(_LIMITS)
    scr_age = creatinine_max_age_hours or scr_limit
    cbc_age = blood_count_max_age_hours or cbc_limit
    long_ago = 24.0 * 365 * 200  # electrolytes/CD4: freshness judged by the course module

    r = case.renal
    creatinine = _reading(
        k, r.serum_creatinine, "creatinine", "renal.serum_creatinine", as_of, scr_age
    )
    if creatinine is not None and creatinine.value <= 0:
        raise ImplausibleValueError("creatinine must be above zero", field="renal.serum_creatinine")
    measured = _reading(
        k,
        r.measured_creatinine_clearance,
        "clearance",
        "renal.measured_creatinine_clearance",
        as_of,
        scr_age,
    )
    _check_dialysis(hd_crcl, r.dialysis.value, measured)
    counts, lytes = case.blood_counts, case.electrolytes
    protein_mg_dl, dipstick, protein_fresh = _urine_protein(k, case, as_of)
    baseline = (
        _quantity(k, r.baseline_serum_creatinine, "creatinine", "renal.baseline_serum_creatinine")
        if r.baseline_serum_creatinine
        else None
    )
    return Facts(
        case=case,
        as_of=as_of,
        age_years=age,
        sex=p.sex.value,
        weight_kg=weight,
        height_cm=height,
        creatinine=creatinine,
        measured_clearance=measured,
        anc=_reading(k, counts.anc, "cell_count", "blood_counts.anc", as_of, cbc_age),
        platelets=_reading(
            k, counts.platelets, "cell_count", "blood_counts.platelets", as_of, cbc_age
        ),
        hemoglobin=_reading(
            k, counts.hemoglobin, "hemoglobin", "blood_counts.hemoglobin", as_of, cbc_age
        ),
        potassium=_reading(
            k, lytes.potassium, "potassium", "electrolytes.potassium", as_of, long_ago
        ),
        magnesium=_reading(
            k, lytes.magnesium, "magnesium", "electrolytes.magnesium", as_of, long_ago
        ),
        ionized_calcium=_reading(
            k, lytes.ionized_calcium, "calcium", "electrolytes.ionized_calcium", as_of, long_ago
        ),
        phosphate=_reading(
            k, lytes.phosphate, "phosphate", "electrolytes.phosphate", as_of, long_ago
        ),
        cd4=_reading(
            k, case.hiv.cd4 if case.hiv else None, "cell_count", "hiv.cd4", as_of, long_ago
        ),
        urine_protein_mg_dl=protein_mg_dl,
        urine_dipstick=dipstick,
        urine_protein_fresh=protein_fresh,
        baseline_creatinine_mg_dl=baseline,
        medications=frozenset(m.strip().lower() for m in case.medications),
        sites=frozenset(site.value for site in case.disease.sites),
        creatinine_limit_hours=creatinine_max_age_hours,
        blood_count_limit_hours=blood_count_max_age_hours,
    )


def _check_dialysis(limit: float, dialysis: str, measured: Reading | None) -> None:
    """``limit``: the knowledge's hemodialysis_contradiction_crcl."""
    if dialysis == "intermittent_hemodialysis" and measured is not None and measured.value >= limit:
        raise ContradictoryInputError(
            f"intermittent hemodialysis with a measured CrCl of {measured.value:g} mL/min "
            f"(≥ {limit:g}) is contradictory; check the dialysis status and the clearance",
            field="renal.dialysis",
        )


def _urine_protein(
    k: Knowledge, case: Case, as_of: datetime
) -> tuple[float | None, str | None, bool]:
    up = case.renal.urine_protein
    if up is None:
        return None, None, False
    if up.quantity is None and up.dipstick is None:
        raise InputError("give a quantity or a dipstick grade", field="renal.urine_protein")
    age_h = (as_of - up.measured_at).total_seconds() / 3600
    if age_h < 0:
        raise InputError("measured after as_of", field="renal.urine_protein.measured_at")
    fresh = age_h <= k.number("cidofovir_lab_max_age_hours")
    value = (
        _quantity(k, up.quantity, "urine_protein", "renal.urine_protein.quantity")
        if up.quantity is not None
        else None
    )
    return value, (up.dipstick.value if up.dipstick else None), fresh
