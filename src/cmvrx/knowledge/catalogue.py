"""Every dose table and rule of the loaded knowledge, with sources and grades, as plain
data (for the web page's knowledge browser, ``cmvrx.api.knowledge_catalogue``)."""

from __future__ import annotations

from typing import Any

from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.summary import summarise


def catalogue(k: Knowledge) -> dict[str, Any]:
    """Dose tables by drug, then the regimen, refusal, alert, monitoring and resistance
    rules and the parameters, each with its ``cite`` ids and grade where the knowledge
    grades it; ``sources`` resolves every id."""
    return {
        "knowledge_version": k.version,
        "knowledge_hash": k.content_hash,
        "drugs": [summarise(k, drug) for drug in k.drugs],
        "regimen_rules": [
            {"id": r.id, "regimen": r.regimen, "text": r.rationale, "cite": list(r.cite)}
            for r in k.rules
        ],
        "refusals": [
            {
                "id": r.id,
                "drug": r.drug,
                "text": r.reason,
                "instead": r.instead,
                "cite": list(r.cite),
            }
            for r in k.refusals
        ],
        "alerts": [
            {"id": a.id, "severity": str(a.severity), "text": a.message, "cite": list(a.cite)}
            for a in k.alerts
        ],
        "monitoring": [
            {
                "id": m.id,
                "test": m.test,
                "phase": m.phase,
                "frequency": m.frequency,
                "grade": m.grade.value,
                "cite": list(m.cite),
            }
            for m in k.monitoring
        ],
        "resistance": [
            {
                "id": r.id,
                "gene": str(r.gene),
                "mutations": list(r.mutations),
                "text": r.implication,
                "cite": list(r.cite),
            }
            for r in k.resistance
        ],
        "parameters": [
            {
                "id": name,
                "value": p.value,
                "unit": p.unit,
                "text": p.description,
                "grade": p.grade.value,
                "configurable": not p.grade.confirmed,
                "cite": list(p.cite),
            }
            for name, p in sorted(k.parameters.items())
        ],
        "sources": {sid: s.title for sid, s in sorted(k.sources.items())},
    }
