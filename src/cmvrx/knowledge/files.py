"""The top-level shape of each knowledge data file (one model per file), and the
course follow-up rules (course.toml). Content models live in ``knowledge.schema``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cmvrx.knowledge.schema import (
    Alert,
    Cite,
    Criterion,
    Grade,
    MaintenanceOption,
    Monitoring,
    MutationRule,
    Parameter,
    Plausible,
    Refusal,
    Regimen,
    RegimenRule,
    SchwartzK,
    Source,
    StrictModel,
)


class ParametersFile(StrictModel):
    parameter: dict[str, Parameter]
    schwartz_k: tuple[SchwartzK, ...]
    plausible: tuple[Plausible, ...]


class CitationsFile(StrictModel):
    source: tuple[Source, ...]


class RegimensFile(StrictModel):
    regimen: tuple[Regimen, ...]
    rule: tuple[RegimenRule, ...]
    refusal: tuple[Refusal, ...]


class AlertsFile(StrictModel):
    alert: tuple[Alert, ...]


class MonitoringFile(StrictModel):
    item: tuple[Monitoring, ...]


class ResistanceFile(StrictModel):
    rule: tuple[MutationRule, ...]


class MaintenanceFile(StrictModel):
    option: tuple[MaintenanceOption, ...]
    end_of_induction: tuple[Criterion, ...]
    stop: tuple[Criterion, ...]
    restart: tuple[Criterion, ...]
    lifelong: tuple[Criterion, ...]


class CourseRule(StrictModel):
    """A finding the course assessment can raise: severity, grade and sources.

    The engine decides when it applies (engine/course*.py); its numbers are parameters,
    monitoring cadences and regimen durations, never written in code.
    """

    id: str
    kind: Literal[
        "data",
        "phase",
        "order",
        "test",
        "toxicity",
        "step_down",
        "end_of_induction",
        "response",
        "resistance",
        "maintenance",
    ]
    severity: Literal["info", "warning", "critical"]
    title: str
    grade: Grade
    cite: Cite


class Genotype(StrictModel):
    """Which genes to genotype when refractory CMV is suspected."""

    genes: Annotated[tuple[str, ...], Field(min_length=1)]
    after_letermovir: tuple[str, ...] = ()
    after_maribavir: tuple[str, ...] = ()
    grade: Grade
    cite: Cite


class CourseFile(StrictModel):
    genotype: Genotype
    rule: tuple[CourseRule, ...]


class OrderRule(StrictModel):
    """A finding the order check can raise (orders.toml): severity, grade and sources."""

    id: str
    severity: Literal["info", "warning", "critical"]
    title: str
    grade: Grade
    cite: Cite


class Combination(StrictModel):
    """Drugs that must not be ordered together: ``duplicate`` therapy or ``forbidden``."""

    id: str
    kind: Literal["duplicate", "forbidden"]
    drugs: Annotated[tuple[str, ...], Field(min_length=2)]
    reason: str
    cite: Cite


class Unusable(StrictModel):
    """``drugs`` cannot be used for a patient for whom every ``when`` predicate holds."""

    id: str
    drugs: Annotated[tuple[str, ...], Field(min_length=1)]
    when: Annotated[tuple[str, ...], Field(min_length=1)]
    reason: str
    cite: Cite


class OrdersFile(StrictModel):
    rule: tuple[OrderRule, ...]
    combination: tuple[Combination, ...] = ()
    unusable: tuple[Unusable, ...] = ()


class Vocabulary(StrictModel):
    """A named set of drugs or sites the rules use (vocabularies.toml)."""

    id: str
    description: str
    items: Annotated[tuple[str, ...], Field(min_length=1)]
    grade: Grade
    cite: Cite


class Instead(StrictModel):
    """What to use instead of ``drug`` when its label row says not recommended."""

    drug: str
    text: str
    cite: Cite


class VocabulariesFile(StrictModel):
    vocabulary: tuple[Vocabulary, ...]
    instead: tuple[Instead, ...] = ()
