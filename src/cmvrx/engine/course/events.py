"""One course event checked with the same rules as a case: units, plausibility bounds.

Pure. ``check_event`` raises the ``InputError`` a case with the same value would raise
(``UnitError`` for a unit cmvrx does not know, ``ImplausibleValueError`` outside the
knowledge's plausibility bounds), naming the event's field. The store runs it before
anything is written; the assessment runs it again on stored events (a database written
by an older cmvrx may hold events these rules refuse) and ignores those that fail.
``measurement_value`` gives a weight or lab in internal units.
"""

from __future__ import annotations

from cmvrx.errors import ImplausibleValueError, InputError
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.course import CmvPcr, DoseGiven, Event, Lab, Weight
from cmvrx.units import to_internal

#: analyte -> (unit kind of units.py, plausibility field of parameters.toml or None)
LAB_KINDS: dict[str, tuple[str, str | None]] = {
    "creatinine": ("creatinine", "renal.serum_creatinine"),
    "measured_creatinine_clearance": ("clearance", "renal.measured_creatinine_clearance"),
    "anc": ("cell_count", "blood_counts.anc"),
    "platelets": ("cell_count", "blood_counts.platelets"),
    "hemoglobin": ("hemoglobin", "blood_counts.hemoglobin"),
    "potassium": ("potassium", None),
    "magnesium": ("magnesium", None),
    "calcium": ("calcium", None),
    "ionized_calcium": ("calcium", None),
    "phosphate": ("phosphate", None),
    "urine_protein": ("urine_protein", None),
    "cd4": ("cell_count", "hiv.cd4"),
    "hiv_rna": ("hiv_rna", None),
}

#: Measurements whose value must be above zero (a zero is a typing error, not a result).
_POSITIVE = frozenset({"creatinine", "hemoglobin", "potassium", "magnesium", "calcium"})


def check_event(event: Event, k: Knowledge, *, field: str = "event") -> None:
    """Refuse an event whose quantities a case would refuse, naming ``field.value``/``unit``."""
    if isinstance(event, Weight):
        measurement_value(event, k, field=field)
    elif isinstance(event, Lab):
        _check_lab(event, k, field=field)
    elif isinstance(event, CmvPcr):
        to_internal(event.value or 0.0, event.unit, "viral_load", field=f"{field}.unit")
    elif isinstance(event, DoseGiven) and event.dose_mg <= 0:  # pragma: no cover - model gt=0
        raise ImplausibleValueError("a dose must be above zero", field=f"{field}.dose_mg")


def _check_lab(lab: Lab, k: Knowledge, *, field: str) -> None:
    if lab.value is None:
        if lab.dipstick is None and lab.suppressed is None:
            raise InputError(
                "a lab needs a result: value with unit, dipstick (urine protein) or"
                " suppressed (HIV RNA)",
                field=f"{field}.value",
            )
        return
    measurement_value(lab, k, field=field)


def measurement_value(event: Weight | Lab, k: Knowledge, *, field: str = "event") -> float:
    """The value of a weight (kg) or a lab (internal unit), checked like a case's."""
    bounds_field: str | None
    if isinstance(event, Weight):
        kind, bounds_field, name = "mass", "patient.weight", "weight"
    else:
        kind, bounds_field = LAB_KINDS[event.analyte.value]
        name = event.analyte.value
    if event.value is None:  # pragma: no cover - callers pass valued labs only
        raise InputError("no value", field=f"{field}.value")
    if not event.unit:
        raise InputError(f"a {name} value needs its unit", field=f"{field}.unit")
    value = to_internal(event.value, event.unit, kind, field=f"{field}.unit")
    if value < 0 or (value == 0 and (name in _POSITIVE or name == "weight")):
        raise ImplausibleValueError(
            f"{event.value:g} {event.unit} must be above zero", field=f"{field}.value"
        )
    bounds = k.plausible.get(bounds_field) if bounds_field else None
    if bounds is not None and not bounds.min <= value <= bounds.max:
        raise ImplausibleValueError(
            f"{event.value:g} {event.unit} ({value:g} {bounds.unit}) is outside the plausible"
            f" range {bounds.min:g}–{bounds.max:g} {bounds.unit} for {name}",
            field=f"{field}.value",
        )
    return value
