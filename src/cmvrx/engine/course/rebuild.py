"""The baseline case brought up to a moment: the latest value of every measurement.

Pure. ``case_at`` replaces each baseline measurement by the latest course result at or
before ``as_of`` (and drops baseline measurements dated after it), applies the latest
weight, dialysis and oral status, and derives cidofovir's pre-treatment creatinine. The
result is an ordinary ``Case`` that the plan's intake and renal code read unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from cmvrx.errors import InputError
from cmvrx.model.course import ClinicalStatus, DialysisChanged, Event, Lab, Weight
from cmvrx.model.patient import (
    Case,
    Hiv,
    Measurement,
    OralRoute,
    Quantity,
    Renal,
    UrineProtein,
)

if TYPE_CHECKING:
    from cmvrx.engine.course.state import TherapyPeriod


def labs_by_analyte(events: Iterable[Event]) -> dict[str, tuple[Lab, ...]]:
    out: dict[str, list[Lab]] = {}
    for e in events:
        if isinstance(e, Lab) and (
            e.value is not None or e.dipstick is not None or e.suppressed is not None
        ):
            out.setdefault(e.analyte.value, []).append(e)
    return {name: tuple(labs) for name, labs in out.items()}


def _latest_value(labs: Mapping[str, tuple[Lab, ...]], analyte: str) -> Lab | None:
    for lab in reversed(labs.get(analyte, ())):
        if lab.value is not None:
            return lab
    return None


def _measurement(
    lab: Lab | None, fallback: Measurement | None, as_of: datetime
) -> Measurement | None:
    if lab is not None:
        if lab.value is None:  # pragma: no cover - _latest_value only returns valued labs
            return None
        if not lab.unit:
            raise InputError(
                f"a {lab.analyte.value} result needs its unit",
                field=f"events[{lab.analyte.value} at {lab.at.isoformat()}].unit",
            )
        return Measurement(value=lab.value, unit=lab.unit, measured_at=lab.at)
    if fallback is not None and fallback.measured_at <= as_of:
        return fallback
    return None


def case_at(
    base: Case,
    events: tuple[Event, ...],
    labs: Mapping[str, tuple[Lab, ...]],
    periods: tuple[TherapyPeriod, ...],
    as_of: datetime,
) -> Case:
    def m(analyte: str, fallback: Measurement | None) -> Measurement | None:
        return _measurement(_latest_value(labs, analyte), fallback, as_of)

    weights = [e for e in events if isinstance(e, Weight)]
    patient = base.patient
    if weights:
        w = weights[-1]
        patient = patient.model_copy(
            update={"weight": Quantity(value=w.value, unit=w.unit), "weight_measured_at": w.at}
        )
    dialysis = [e for e in events if isinstance(e, DialysisChanged)]
    r = base.renal
    renal = Renal(
        serum_creatinine=m("creatinine", r.serum_creatinine),
        baseline_serum_creatinine=r.baseline_serum_creatinine
        or _pre_treatment_creatinine(base, labs, periods, as_of),
        measured_creatinine_clearance=m(
            "measured_creatinine_clearance", r.measured_creatinine_clearance
        ),
        dialysis=dialysis[-1].dialysis if dialysis else r.dialysis,
        urine_protein=_urine_protein(labs, r.urine_protein, as_of),
    )
    counts, lytes = base.blood_counts, base.electrolytes
    return base.model_copy(
        update={
            "patient": patient,
            "renal": renal,
            "hiv": _hiv(base.hiv, labs, as_of),
            "blood_counts": counts.model_copy(
                update={
                    "anc": m("anc", counts.anc),
                    "platelets": m("platelets", counts.platelets),
                    "hemoglobin": m("hemoglobin", counts.hemoglobin),
                }
            ),
            "electrolytes": lytes.model_copy(
                update={
                    name: m(name, getattr(lytes, name))
                    for name in (
                        "potassium",
                        "magnesium",
                        "calcium",
                        "ionized_calcium",
                        "phosphate",
                    )
                }
            ),
            "oral": _oral(base.oral, events),
        }
    )


def _pre_treatment_creatinine(
    base: Case,
    labs: Mapping[str, tuple[Lab, ...]],
    periods: tuple[TherapyPeriod, ...],
    as_of: datetime,
) -> Quantity | None:
    """Cidofovir's baseline: the last creatinine at or before cidofovir was first ordered."""
    start = next((p.start for p in periods if "cidofovir" in p.drugs), None)
    if start is None:
        return None
    before = [
        lab for lab in labs.get("creatinine", ()) if lab.at <= start and lab.value is not None
    ]
    if before and before[-1].unit and before[-1].value is not None:
        return Quantity(value=before[-1].value, unit=before[-1].unit)
    scr = base.renal.serum_creatinine
    if scr is not None and scr.measured_at <= min(start, as_of):
        return Quantity(value=scr.value, unit=scr.unit)
    return None


def _urine_protein(
    labs: Mapping[str, tuple[Lab, ...]], fallback: UrineProtein | None, as_of: datetime
) -> UrineProtein | None:
    results = labs.get("urine_protein", ())
    if results:
        lab = results[-1]
        quantity = None
        if lab.value is not None:
            if not lab.unit:
                raise InputError(
                    "a urine protein value needs its unit",
                    field=f"events[urine_protein at {lab.at.isoformat()}].unit",
                )
            quantity = Quantity(value=lab.value, unit=lab.unit)
        if quantity is not None or lab.dipstick is not None:
            return UrineProtein(quantity=quantity, dipstick=lab.dipstick, measured_at=lab.at)
    if fallback is not None and fallback.measured_at <= as_of:
        return fallback
    return None


def _hiv(base: Hiv | None, labs: Mapping[str, tuple[Lab, ...]], as_of: datetime) -> Hiv | None:
    if base is None:
        return None
    cd4 = _measurement(_latest_value(labs, "cd4"), base.cd4, as_of)
    rna = labs.get("hiv_rna", ())
    update: dict[str, object] = {"cd4": cd4}
    if rna:
        update["hiv_rna_suppressed"] = rna[-1].suppressed
        update["hiv_rna"] = None
    elif base.hiv_rna is not None and base.hiv_rna.measured_at > as_of:
        update["hiv_rna"] = None
        update["hiv_rna_suppressed"] = None
    return base.model_copy(update=update)


def _oral(base: OralRoute | None, events: tuple[Event, ...]) -> OralRoute | None:
    take = base.can_take_oral if base else None
    absorb = base.can_absorb_oral if base else None
    for e in events:
        if isinstance(e, ClinicalStatus):
            take = e.can_take_oral if e.can_take_oral is not None else take
            absorb = e.can_absorb_oral if e.can_absorb_oral is not None else absorb
    if take is False or absorb is False:
        return OralRoute(can_take_oral=bool(take), can_absorb_oral=bool(absorb))
    if take is None or absorb is None:
        return None
    return OralRoute(can_take_oral=take, can_absorb_oral=absorb)
