"""The course assessment cmvrx returns: where a patient stands at ``as_of`` and what to do.

Plain, immutable values like ``model.plan``. Every ``Finding`` carries the course rule
that raised it (``rule_id``, from ``knowledge/data/course.toml``), the knowledge rules it
rests on (``based_on``: a dose band, a monitoring item, a maintenance criterion …) and
the ``cite`` ids of its sources. The assessment carries the knowledge version and hash,
its ``as_of`` and the disclaimer (``provenance``). ``CourseAssessment.to_dict()`` is the
JSON shape (docs/course.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from cmvrx.frozen import fast_init
from cmvrx.model.plan import (
    DrugDose,
    NotConfirmed,
    Provenance,
    RenalFunction,
    Severity,
    jsonable,
)

OrderVerdict = Literal["ok", "redose", "stop", "no_label_dose", "unverifiable", "not_checked"]
MonitoringState = Literal["ok", "due", "overdue", "missing"]
ResponseClass = Literal[
    "no_data",
    "cleared",
    "responding",
    "too_early",
    "probable_refractory",
    "refractory",
    "check_dosing",
]


@fast_init
@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the clinician must know or do, with its rule and sources."""

    rule_id: str
    kind: str
    severity: Severity
    title: str
    message: str
    cite: tuple[str, ...]
    based_on: tuple[str, ...] = ()
    drug: str | None = None
    grade: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class PhaseStatus:
    """Phase and day, e.g. ``induction day 9 of ≥ 21``."""

    phase: str  # not_started | induction | step_down | maintenance | stopped
    text: str
    regimen_id: str | None
    therapy_started_at: datetime | None
    phase_started_at: datetime | None
    induction_day: int | None
    induction_min_days: int | None
    phase_day: int | None


@fast_init
@dataclass(frozen=True, slots=True)
class OrderedDose:
    drug: str
    dose_mg: float
    interval: str
    route: str | None
    ordered_at: datetime


@fast_init
@dataclass(frozen=True, slots=True)
class OrderCheck:
    """An active order against today's renal function: still right, or the new order."""

    ordered: OrderedDose
    verdict: OrderVerdict
    recommended: DrugDose | None
    change: str
    reason: str
    direction: Literal["", "higher", "lower"]
    rule_id: str
    cite: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class MonitoringStatus:
    """A monitoring test: when it was last done and when it is due."""

    rule_id: str
    test: str
    every_days: float
    last_at: datetime | None
    due_at: datetime | None
    status: MonitoringState
    cite: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class StepDownStatus:
    applicable: bool
    eligible: bool
    improving_days: float | None
    required_days: int | None
    unmet: tuple[str, ...]
    dose: DrugDose | None
    rule_id: str
    cite: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class EndOfInduction:
    applicable: bool
    min_days: int | None
    days_on_therapy: int | None
    min_duration_met: bool
    pcr_not_detected: bool
    met: bool
    remaining: tuple[str, ...]
    based_on: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class PcrPoint:
    at: datetime
    result: str
    value_iu_ml: float | None
    lower_limit_iu_ml: float
    specimen: str


@fast_init
@dataclass(frozen=True, slots=True)
class Response:
    """Viral-load response: log10 change from the baseline PCR and its classification."""

    classification: ResponseClass
    baseline: PcrPoint | None
    latest: PcrPoint | None
    log10_change: float | None
    days_of_therapy: int | None
    adequately_dosed: bool
    genotype_genes: tuple[str, ...]
    text: str


@fast_init
@dataclass(frozen=True, slots=True)
class MaintenanceStatus:
    applicable: bool
    options: tuple[DrugDose, ...]
    hiv: bool
    stop_eligible: bool | None
    stop_unmet: tuple[str, ...]
    restart: bool
    lifelong: bool
    based_on: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class SetAside:
    """A recorded event the assessment did not use as recorded, and why.

    ``status``: ``invalid`` (fails the input rules: unit, plausibility), ``entered_in_error``
    (an ``entered_in_error`` event names it), ``held`` (implausible against the patient's
    own recent values: waiting for confirmation) or ``superseded`` (held, then a later
    accepted measurement of the same kind replaced it)."""

    seq: int
    kind: str
    at: datetime
    what: str
    status: Literal["invalid", "entered_in_error", "held", "superseded"]
    reason: str
    field: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class CourseAssessment:
    """Everything the course says at ``as_of``: phase, orders, tests, findings."""

    course_id: str
    provenance: Provenance
    events_considered: int
    events_after_as_of: int
    phase: PhaseStatus
    state: dict[str, Any]
    renal: RenalFunction
    orders: tuple[OrderCheck, ...]
    tests: tuple[MonitoringStatus, ...]
    step_down: StepDownStatus
    end_of_induction: EndOfInduction
    response: Response
    maintenance: MaintenanceStatus
    findings: tuple[Finding, ...]
    not_confirmed: tuple[NotConfirmed, ...]
    sources: dict[str, str] = field(default_factory=dict)
    set_aside: tuple[SetAside, ...] = ()

    def rule_ids(self) -> tuple[str, ...]:
        """The rule ids of the findings, in order."""
        return tuple(f.rule_id for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (datetimes as ISO 8601 strings)."""
        return jsonable(asdict(self))  # type: ignore[no-any-return]
