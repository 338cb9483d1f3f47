"""What the inbound mapping could not use, and why: one ``Problem`` per finding.

The ``kind`` vocabulary is stable (scripts, the service and the audit rely on it) and
documented in docs/fhir.md. A problem always names the resource (type and id) and,
for NDJSON, the line it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

ProblemKind = Literal[
    "malformed",
    "status_not_final",
    "entered_in_error",
    "not_active_confirmed",
    "missing_time",
    "future",
    "missing_value",
    "unknown_unit",
    "unit_mismatch",
    "implausible",
    "stale",
    "not_used",
    "site_unspecified",
    "unconfirmed_code",
    "unresolved_reference",
    "order_incomplete",
    "conflict",
    "missing_fact",
]
PROBLEM_KINDS: Final = ProblemKind.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Problem:
    """One unusable value: what kind, in which resource, which field, and why."""

    kind: ProblemKind
    resource: str  # "Observation/abc" ("" for whole-case facts)
    field: str
    message: str
    where: str = ""  # "Observation.ndjson:12" for NDJSON input

    def to_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "resource": self.resource,
            "field": self.field,
            "message": self.message,
            "where": self.where,
        }


@dataclass(frozen=True, slots=True)
class Match:
    """How one resource was recognised: target (analyte, concept or drug) and route."""

    resource: str
    target: str
    route: str  # "loinc:2160-0", "rxnorm:313566 (high)", "atc:J05AB06", "text:'ganciclovir'"

    def to_dict(self) -> dict[str, str]:
        return {"resource": self.resource, "target": self.target, "route": self.route}
