"""A treatment course: one patient's baseline case and the dated events that follow.

Events may arrive late or out of order; everything that reads a course sorts them by
``at`` (then by ``seq``, the order they were recorded), so the assessment never
depends on arrival order. A CMV PCR "not detected" is a result, not a missing value.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from cmvrx.model.patient import Antiviral, Case, Dialysis, Number, Timestamp, UrineDipstick


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Phase(StrEnum):
    induction = "induction"
    step_down = "step_down"
    maintenance = "maintenance"
    stopped = "stopped"


class DrugOrder(_Strict):
    """One drug as ordered: amount per administration and interval (as the labels write it)."""

    drug: Antiviral
    dose_mg: Number = Field(gt=0)
    interval: str = Field(min_length=2, description="e.g. 'q12h', 'twice daily', 'once weekly'.")
    route: Literal["IV", "oral"] | None = None


class _Event(_Strict):
    at: Timestamp = Field(description="When it happened (not when it was recorded).")
    note: str | None = None


class PlanStarted(_Event):
    kind: Literal["plan_started"] = "plan_started"
    regimen_id: str | None = None
    phase: Phase = Phase.induction
    orders: Annotated[list[DrugOrder], Field(min_length=1)]


class RegimenChanged(_Event):
    kind: Literal["regimen_changed"] = "regimen_changed"
    phase: Phase
    orders: list[DrugOrder] = Field(default_factory=list, description="Empty when stopped.")
    reason: str | None = None


class DoseGiven(_Event):
    kind: Literal["dose_given"] = "dose_given"
    drug: Antiviral
    dose_mg: Number = Field(gt=0)


class DoseHeld(_Event):
    kind: Literal["dose_held"] = "dose_held"
    drug: Antiviral
    reason: str = Field(min_length=1)


class Analyte(StrEnum):
    creatinine = "creatinine"
    measured_creatinine_clearance = "measured_creatinine_clearance"
    anc = "anc"
    platelets = "platelets"
    hemoglobin = "hemoglobin"
    potassium = "potassium"
    magnesium = "magnesium"
    calcium = "calcium"
    ionized_calcium = "ionized_calcium"
    phosphate = "phosphate"
    urine_protein = "urine_protein"
    cd4 = "cd4"
    hiv_rna = "hiv_rna"


class Lab(_Event):
    kind: Literal["lab"] = "lab"
    analyte: Analyte
    value: Number | None = None
    unit: str | None = None
    dipstick: UrineDipstick | None = Field(None, description="Urine protein by dipstick.")
    suppressed: bool | None = Field(None, description="HIV RNA below the assay limit.")


class CmvPcr(_Event):
    kind: Literal["cmv_pcr"] = "cmv_pcr"
    result: Literal["detected", "not_detected", "detected_below_lloq"]
    value: Number | None = Field(None, ge=0, description="IU/mL when quantified.")
    unit: str = "IU/mL"
    lower_limit: Number = Field(
        gt=0, description="The assay's lower limit of quantification, IU/mL."
    )
    specimen: Literal["blood", "plasma", "whole_blood", "csf"] = "plasma"


class Weight(_Event):
    kind: Literal["weight"] = "weight"
    value: Number = Field(gt=0)
    unit: str


class DialysisChanged(_Event):
    kind: Literal["dialysis_changed"] = "dialysis_changed"
    dialysis: Dialysis


class ClinicalStatus(_Event):
    kind: Literal["clinical_status"] = "clinical_status"
    status: Literal["improving", "stable", "worsening"]
    can_take_oral: bool | None = None
    can_absorb_oral: bool | None = None


class Note(_Event):
    kind: Literal["note"] = "note"
    text: str = Field(min_length=1)


class EnteredInError(_Event):
    """Marks an earlier event (by its ``seq``) as entered in error: it stays in the
    history but the assessment and the chart ignore it from ``at`` on."""

    kind: Literal["entered_in_error"] = "entered_in_error"
    ref_seq: int = Field(ge=1, strict=True, description="The seq of the event in error.")
    reason: str = Field(min_length=1)


class MeasurementConfirmed(_Event):
    """Confirms an earlier weight or lab (by its ``seq``) that was held for review because
    it is implausible against the patient's own recent values; from ``at`` on it is used."""

    kind: Literal["measurement_confirmed"] = "measurement_confirmed"
    ref_seq: int = Field(ge=1, strict=True, description="The seq of the held measurement.")


#: Event kinds that refer to another event by ``ref_seq``.
REFERENCE_KINDS = frozenset({"entered_in_error", "measurement_confirmed"})
#: Event kinds a ``measurement_confirmed`` may refer to.
MEASUREMENT_KINDS = frozenset({"weight", "lab"})


Event = Annotated[
    PlanStarted
    | RegimenChanged
    | DoseGiven
    | DoseHeld
    | Lab
    | CmvPcr
    | Weight
    | DialysisChanged
    | ClinicalStatus
    | Note
    | EnteredInError
    | MeasurementConfirmed,
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def reference_problem(
    event: EnteredInError | MeasurementConfirmed, kind_of: Mapping[int, str], *, seq: int
) -> str | None:
    """Why ``event`` (stored as ``seq``) cannot refer to its ``ref_seq``, or None.
    ``kind_of`` maps the seqs of the course's events to their kinds."""
    ref = event.ref_seq
    target = kind_of.get(ref)
    if ref >= seq or target is None:
        return f"seq {ref} is not an earlier event of this course (this event is seq {seq})"
    if target in REFERENCE_KINDS:
        return f"seq {ref} is a {target} event; refer to the event it names instead"
    if isinstance(event, MeasurementConfirmed) and target not in MEASUREMENT_KINDS:
        return f"seq {ref} is a {target} event; only a weight or a lab can be confirmed"
    return None


class Course(_Strict):
    """A patient's course: the baseline case and its events (any order)."""

    course_id: str = Field(min_length=1)
    baseline: Case
    events: list[Event] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Course:
        """A reference names an earlier event (``seq`` = position in recording order, from
        1): never itself, a later event, or another reference."""
        kinds = {i + 1: e.kind for i, e in enumerate(self.events)}
        for i, e in enumerate(self.events):
            if isinstance(e, EnteredInError | MeasurementConfirmed):
                problem = reference_problem(e, kinds, seq=i + 1)
                if problem:
                    raise ValueError(f"events[{i}].ref_seq: {problem}")
        return self

    def timeline(self) -> list[Event]:
        """Events in clinical order: by ``at``, ties kept in recorded order."""
        return sorted(self.events, key=lambda e: e.at)
