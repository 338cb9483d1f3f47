"""The treatment plan cmvrx returns: plain, immutable values, ready to render or serialise.

Every item carries the ``rule_id`` that produced it and the ``cite`` ids of its
sources; the plan carries the knowledge version and hash and its ``as_of``.
``Plan.to_dict()`` is the documented JSON shape (docs/plan-json.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from cmvrx.frozen import fast_init
from cmvrx.model.dosage import AdministrationFacts, from_drug_dose

DISCLAIMER = (
    "cmvrx is clinical decision support, not a prescriber: every recommendation must be "
    "checked and ordered by a qualified clinician who knows the patient."
)

DoseStatus = Literal["dose", "not_recommended", "insufficient_data", "no_label_dose"]
Severity = Literal["info", "warning", "critical"]


@fast_init
@dataclass(frozen=True, slots=True)
class RenalFunction:
    """Renal function as each label defines it, with the method and weight stated."""

    dialysis: str
    serum_creatinine_mg_dl: float | None
    creatinine_measured_at: datetime | None
    creatinine_age_hours: float | None
    creatinine_clearance_ml_min: float | None
    clearance_method: str
    clearance_per_kg_ml_min_kg: float | None
    per_kg_method: str
    weight_basis: str
    weight_kg: float
    actual_weight_kg: float
    ideal_weight_kg: float | None
    obese: bool
    egfr_bedside_schwartz: float | None = None
    bsa_m2: float | None = None
    insufficient: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class DrugDose:
    """One drug in one phase for this patient: a dose, or why there is none."""

    drug: str
    drug_name: str
    phase: str
    status: DoseStatus
    rule_id: str
    schedule_title: str
    route: str
    cite: tuple[str, ...]
    renal_basis: str = ""
    band: str = ""
    dose_per_kg: float | None = None
    dose_unit: str = ""
    weight_kg: float | None = None
    dose_mg: float | None = None
    practical_mg: float | None = None
    rounding: str = ""
    interval: str = ""
    per_day: float | None = None
    max_per_day: float | None = None
    infusion: tuple[str, ...] = ()
    hydration: tuple[str, ...] = ()
    instructions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    note: str = ""
    reason: str = ""
    instead: str = ""
    measure: str = ""
    not_confirmed: tuple[str, ...] = ()
    # The drug's administration facts (infusion, hydration) from the knowledge, from which
    # the structured ``dosage`` of the JSON is built; not itself in the JSON.
    administration: AdministrationFacts | None = field(default=None, compare=False, repr=False)
    #: Eligibility checks that could not be made for want of input (quick doses).
    not_checked: tuple[str, ...] = ()


#: The default of every DrugDose field that has one (the dose tables' row templates start
#: from it).
DRUG_DOSE_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {f.name: f.default for f in fields(DrugDose) if f.default is not MISSING}
)
#: The DrugDose field names in declaration order (``drug_dose_of`` takes values in it).
DRUG_DOSE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(DrugDose))


def drug_dose_of(values: Sequence[Any]) -> DrugDose:
    """A DrugDose from the value of every field in ``DRUG_DOSE_FIELDS`` order, for the
    dose tables' row templates."""
    if len(values) != len(DRUG_DOSE_FIELDS):
        raise ValueError(f"DrugDose has {len(DRUG_DOSE_FIELDS)} fields, not {len(values)}")
    return DrugDose(*values)


@fast_init
@dataclass(frozen=True, slots=True)
class Refused:
    """A drug cmvrx does not offer for this patient, with the reason and the alternative."""

    drug: str
    rule_id: str
    reason: str
    instead: str
    cite: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Alert:
    rule_id: str
    severity: Severity
    message: str
    cite: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class MonitoringItem:
    rule_id: str
    test: str
    phase: str
    frequency: str
    every_days: float | None
    cite: tuple[str, ...]
    grade: str


@fast_init
@dataclass(frozen=True, slots=True)
class Criterion:
    rule_id: str
    text: str
    grade: str
    cite: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class StepDown:
    drug: str
    after_improvement_days: str
    eligible: bool
    why_not: str
    dose: DrugDose | None
    rule_id: str
    cite: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Regimen:
    rule_id: str
    regimen_id: str | None
    title: str
    rationale: str
    induction: tuple[DrugDose, ...]
    duration: str
    duration_min_days: int | None
    duration_max_days: int | None
    step_down: StepDown | None
    then: str
    cite: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Maintenance:
    options: tuple[DrugDose, ...]
    end_of_induction: tuple[Criterion, ...]
    stop: tuple[Criterion, ...]
    restart: tuple[Criterion, ...]
    lifelong: tuple[Criterion, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class NotConfirmed:
    """A value graded NOT CONFIRMED that this output used (configurable)."""

    id: str
    value: str
    description: str


@fast_init
@dataclass(frozen=True, slots=True)
class Provenance:
    cmvrx_version: str
    knowledge_version: str
    knowledge_hash: str
    as_of: datetime
    disclaimer: str = DISCLAIMER


@fast_init
@dataclass(frozen=True, slots=True)
class Plan:
    case_id: str
    provenance: Provenance
    patient: dict[str, Any]
    renal: RenalFunction
    regimen: Regimen
    refused: tuple[Refused, ...]
    maintenance: Maintenance
    monitoring: tuple[MonitoringItem, ...]
    alerts: tuple[Alert, ...]
    not_confirmed: tuple[NotConfirmed, ...]
    sources: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (datetimes as ISO 8601 strings); each dose carries its
        structured ``dosage`` (docs/plan-json.md). Built by the per-class serialisers of
        ``plan_json`` (equal to the type-dispatch ``_json_dict``, about twice as fast)."""
        from cmvrx.model.plan_json import plan_dict

        return plan_dict(self)

    def to_json(self) -> bytes:
        """``to_dict()`` as compact UTF-8 JSON bytes (orjson when installed)."""
        from cmvrx.model.plan_json import plan_json_bytes

        return plan_json_bytes(self)

    def to_dict_generic(self) -> dict[str, Any]:
        """The type-dispatch serialiser, the reference the fast one is tested against."""
        return _json_dict(self)

    def to_dict_via_asdict(self) -> dict[str, Any]:
        """The former, slow serialiser (``dataclasses.asdict``), kept to prove the fast
        one equal (tests/test_plan_json.py): no ``dosage``, with ``administration``."""
        return jsonable(asdict(self))  # type: ignore[no-any-return]


def jsonable(value: Any) -> Any:
    """Dataclass-dict values made JSON-ready (datetimes as ISO 8601 strings)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...] | None:
    """The JSON field names of a dataclass type (None for any other type), read once."""
    found = _FIELD_NAMES.get(cls)
    if found is None:
        if not is_dataclass(cls):
            return None
        found = _FIELD_NAMES[cls] = tuple(
            f.name for f in fields(cls) if not (cls is DrugDose and f.name == "administration")
        )
    return found


def _json_value(value: Any) -> Any:
    """``jsonable(asdict(value))`` without asdict's deep copies: dispatch on the exact
    type, field names read once per class, tuples of strings copied as lists."""
    t = type(value)
    if t in _SCALARS:
        return value
    if t is tuple or t is list:
        for v in value:
            if type(v) is not str:
                return [_json_value(v) for v in value]
        return list(value)
    if t is dict:
        return {k: _json_value(v) for k, v in value.items()}
    if t is datetime:
        return value.isoformat()
    if _names(t) is not None:
        return _json_dict(value)
    return value


def _json_dict(obj: Any) -> dict[str, Any]:
    names = _names(type(obj))
    assert names is not None
    out = {name: _json_value(getattr(obj, name)) for name in names}
    if type(obj) is DrugDose:
        dosage = from_drug_dose(obj)
        out["dosage"] = None if dosage is None else dosage.to_dict()
    return out
