"""Prefetch templates for the CDS services, built from the code lists the service binds.

One source: the bindings of ``cmvrx.fhir.codes`` (knowledge data with sources,
``terminology.toml``). A template filtered by code lists every code the inbound mapping
understands (e.g. every creatinine code), so an EHR that honours the filter sends all
that is needed. The keys are part of the discovery contract (docs/service.md).
"""

from __future__ import annotations

from functools import cache

from cmvrx.fhir import codes


@cache
def code_lists() -> dict[str, tuple[tuple[str, str], ...]]:
    """``{template key: ((system, code), …)}`` for every template filtered by code."""
    return {
        "observations": tuple(codes.observation_codes()),
        "conditions": tuple(codes.condition_codes()),
        "procedures": tuple(codes.condition_codes(resource="Procedure")),
    }


def templates() -> dict[str, str]:
    """The prefetch templates every cmvrx service asks for (same set for each hook)."""
    return codes.prefetch_templates()
