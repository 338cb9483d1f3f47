"""Every unit conversion in cmvrx, in one place.

Quantities enter with an explicit unit (UCUM code or its common spelling) and are
converted here to the internal units the engine uses: kg, cm, years, mg/dL for
serum creatinine, mL/min for clearance, cells/µL for counts, g/dL for hemoglobin,
mmol/L for electrolytes, mg/dL for urine protein.

The factors below are definitions of units (the pound, the inch) or a physical
constant (creatinine molar mass 113.12 g/mol → 1 mg/dL = 88.4 µmol/L; clinical
reference §7.4, S-REN-CONV), not clinical judgement, so they live in code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from cmvrx.errors import UnitError

CREATININE_UMOL_L_PER_MG_DL: Final = 88.4  # §7.4, S-REN-CONV / S-REN-RCM
KG_PER_LB: Final = 0.45359237  # international avoirdupois pound (exact)
CM_PER_INCH: Final = 2.54  # international inch (exact)


def _identity(x: float) -> float:
    return x


def _scale(factor: float) -> Callable[[float], float]:
    def convert(x: float) -> float:
        return x * factor

    return convert


# quantity kind -> {accepted unit spelling -> converter to the internal unit}
_CONVERTERS: Final[Mapping[str, Mapping[str, Callable[[float], float]]]] = {
    "mass": {
        "kg": _identity,
        "g": _scale(0.001),
        "[lb_av]": _scale(KG_PER_LB),
        "lb": _scale(KG_PER_LB),
    },
    "length": {
        "cm": _identity,
        "m": _scale(100.0),
        "[in_i]": _scale(CM_PER_INCH),
        "in": _scale(CM_PER_INCH),
    },
    "creatinine": {
        "mg/dL": _identity,
        "umol/L": _scale(1 / CREATININE_UMOL_L_PER_MG_DL),
        "µmol/L": _scale(1 / CREATININE_UMOL_L_PER_MG_DL),
    },
    "clearance": {"mL/min": _identity},
    # counts: cells/µL; 10*9/L == 10^3/µL
    "cell_count": {
        "/uL": _identity,
        "cells/uL": _identity,
        "cells/µL": _identity,
        "/µL": _identity,
        "10*3/uL": _scale(1000.0),
        "10*9/L": _scale(1000.0),
    },
    "hemoglobin": {"g/dL": _identity, "g/L": _scale(0.1)},
    # mEq/L equals mmol/L for the monovalent K+, half of it for Ca2+ and Mg2+; mg/dL by
    # molar mass (Ca 40.08, Mg 24.305, P 30.974 g/mol).
    "potassium": {"mmol/L": _identity, "mEq/L": _identity},
    "magnesium": {"mmol/L": _identity, "mEq/L": _scale(0.5), "mg/dL": _scale(10 / 24.305)},
    "calcium": {"mmol/L": _identity, "mEq/L": _scale(0.5), "mg/dL": _scale(10 / 40.08)},
    "phosphate": {"mmol/L": _identity, "mg/dL": _scale(10 / 30.974)},
    "urine_protein": {"mg/dL": _identity, "g/L": _scale(100.0)},
    "viral_load": {"[IU]/mL": _identity, "IU/mL": _identity},
    "hiv_rna": {"{copies}/mL": _identity, "copies/mL": _identity},
    "age": {"a": _identity, "y": _identity, "mo": _scale(1 / 12)},
    # FHIR Timing units (UCUM) -> hours
    "duration": {"min": _scale(1 / 60), "h": _identity, "d": _scale(24.0), "wk": _scale(168.0)},
}

INTERNAL_UNIT: Final[Mapping[str, str]] = {
    "mass": "kg",
    "length": "cm",
    "creatinine": "mg/dL",
    "clearance": "mL/min",
    "cell_count": "cells/µL",
    "hemoglobin": "g/dL",
    "potassium": "mmol/L",
    "magnesium": "mmol/L",
    "calcium": "mmol/L",
    "phosphate": "mmol/L",
    "urine_protein": "mg/dL",
    "viral_load": "IU/mL",
    "hiv_rna": "copies/mL",
    "age": "years",
    "duration": "h",
}


def converters(kind: str) -> Mapping[str, Callable[[float], float]]:
    """``{accepted unit spelling: converter to the internal unit}`` of a quantity kind: a
    hot path looks the unit up itself and calls ``to_internal`` only for the error."""
    return _CONVERTERS[kind]


def accepted_units(kind: str) -> tuple[str, ...]:
    """The unit spellings accepted for a quantity kind."""
    return tuple(_CONVERTERS[kind])


def to_internal(value: float, unit: str, kind: str, *, field: str) -> float:
    """Convert ``value`` in ``unit`` to the internal unit of ``kind``.

    Raises ``UnitError`` naming ``field`` when the unit is not one cmvrx knows for
    that kind.
    """
    table = _CONVERTERS[kind]
    converter = table.get(unit)
    if converter is None:
        raise UnitError(
            f"unit {unit!r} is not accepted; use one of {', '.join(table)}", field=field
        )
    return converter(value)


def from_internal(value: float, unit: str, kind: str) -> float:
    """Inverse of :func:`to_internal` (used for display and round-trip tests)."""
    return value / to_internal(1.0, unit, kind, field=kind)


def creatinine_mg_dl(value: float, unit: str, *, field: str = "serum_creatinine") -> float:
    """Serum creatinine in mg/dL from mg/dL or µmol/L."""
    return to_internal(value, unit, "creatinine", field=field)


# log10 IU/mL (no UCUM code; these spellings are conventions). Not a linear unit, so it
# is kept out of the table above: only FHIR observations (CMV DNA, LOINC 72494-8) use it.
LOG_VIRAL_LOAD_UNITS: Final = ("{log_IU}/mL", "[log_IU]/mL", "log IU/mL", "log10 IU/mL")
_MAX_LOG10: Final = 300.0  # beyond this 10**x overflows a float


def observation_units(kind: str) -> tuple[str, ...]:
    """Units accepted for a quantity kind, including ``log_viral_load``."""
    return LOG_VIRAL_LOAD_UNITS if kind == "log_viral_load" else accepted_units(kind)


def observation_value(value: float, unit: str, kind: str, *, field: str) -> float:
    """:func:`to_internal`, plus ``log_viral_load`` (log10 IU/mL) to IU/mL."""
    if kind != "log_viral_load":
        return to_internal(value, unit, kind, field=field)
    if unit not in LOG_VIRAL_LOAD_UNITS:
        raise UnitError(
            f"unit {unit!r} is not accepted; use one of {', '.join(LOG_VIRAL_LOAD_UNITS)}",
            field=field,
        )
    if not -_MAX_LOG10 < value < _MAX_LOG10:
        raise UnitError(f"log10 value {value:g} is out of range", field=field)
    return float(10.0**value)
