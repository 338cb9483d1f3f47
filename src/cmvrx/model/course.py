"""A treatment course: one patient's baseline case and the dated events that follow.

Events may arrive late or out of order; everything that reads a course sorts them by
``at`` (then by ``seq``, the order they were recorded), so the assessment never
depends on arrival order. A CMV PCR "not detected" is a result, not a missing value.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from cmvrx.model.patient import Antiviral, Case, Dialysis, Number, UrineDipstick


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
    at: datetime = Field(description="When it happened (not when it was recorded).")
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
    | Note,
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class Course(_Strict):
    """A patient's course: the baseline case and its events (any order)."""

    course_id: str = Field(min_length=1)
    baseline: Case
    events: list[Event] = Field(default_factory=list)

    def timeline(self) -> list[Event]:
        """Events in clinical order: by ``at``, ties kept in recorded order."""
        return sorted(self.events, key=lambda e: e.at)
