"""Fill the ``{placeholders}`` of knowledge messages from a situation.

The placeholder names are a closed set (``PLACEHOLDERS``); a test proves that every
message in the knowledge uses only these.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from cmvrx.engine.predicates import (
    Situation,
    foscarnet_unusable,
    ganciclovir_unusable,
    low_electrolytes,
    missing_electrolytes,
)


def _fmt(value: float | None, spec: str = ".0f") -> str:
    return "not known" if value is None else format(value, spec)


def _unusable_reasons(s: Situation) -> str:
    reasons = []
    if ganciclovir_unusable(s):
        why = [*s.cytopenias]
        if s.facts.case.intolerance.ganciclovir:
            why.append("intolerance")
        if "ganciclovir" in s.resistant_to:
            why.append("resistance")
        reasons.append("ganciclovir: " + ", ".join(why))
    if foscarnet_unusable(s):
        why = []
        if s.facts.case.intolerance.foscarnet:
            why.append("intolerance")
        if "foscarnet" in s.resistant_to:
            why.append("resistance")
        if s.foscarnet_renal_refusal:
            why.append(
                "no label dose on hemodialysis"
                if s.renal.dialysis == "intermittent_hemodialysis"
                else "CrCl < 0.4 mL/min/kg"
            )
        reasons.append("foscarnet: " + ", ".join(why))
    if s.cidofovir_problems and "cidofovir" not in s.regimen_drugs:
        reasons.append("cidofovir: " + "; ".join(s.cidofovir_problems))
    return "; ".join(reasons) or "none"


def _resistance_summary(s: Situation) -> str:
    from cmvrx.engine.resistance import describe

    # sorted: the plan must not depend on the order the mutations were entered in
    return "; ".join(sorted(describe(m, s.knowledge) for m in s.facts.case.resistance_mutations))


def alert_context(s: Situation) -> Mapping[str, str]:
    """Values for every placeholder, as display strings."""
    f, r, k = s.facts, s.renal, s.knowledge
    missing_counts = [
        n
        for n, x in (("ANC", f.anc), ("platelets", f.platelets), ("hemoglobin", f.hemoglobin))
        if x is None or not x.fresh
    ]
    ibw = r.ideal_weight_kg
    params = {
        name: f"{k.number(name):g}"
        for name in (
            "hiv_maintenance_stop_cd4",
            "hiv_maintenance_stop_cd4_upper",
            "hiv_maintenance_stop_months",
            "hiv_maintenance_restart_cd4",
            "hiv_lifelong_maintenance_cd4",
        )
    }
    return {
        "crcl_ml_min": _fmt(r.creatinine_clearance_ml_min),
        "dialysis": {"crrt": "CRRT", "peritoneal": "Peritoneal dialysis"}.get(
            r.dialysis, r.dialysis
        ),
        "anc": _fmt(f.anc.value if f.anc else None),
        "cytopenias": "; ".join(s.cytopenias),
        "missing_counts": ", ".join(missing_counts),
        "missing_electrolytes": ", ".join(missing_electrolytes(s)),
        "low_electrolytes": ", ".join(low_electrolytes(s)),
        "unusable_reasons": _unusable_reasons(s),
        "resistance_summary": _resistance_summary(s),
        "weight_kg": _fmt(f.weight_kg, ".1f"),
        "ibw_kg": _fmt(ibw, ".1f"),
        "ibw_ratio": _fmt(f.weight_kg / ibw if ibw else None, ".2f"),
        "weight_basis": r.weight_basis,
        "egfr": _fmt(r.egfr_bedside_schwartz),
        **params,
    }


PLACEHOLDERS = frozenset(
    {
        "crcl_ml_min",
        "dialysis",
        "anc",
        "cytopenias",
        "missing_counts",
        "missing_electrolytes",
        "low_electrolytes",
        "unusable_reasons",
        "resistance_summary",
        "weight_kg",
        "ibw_kg",
        "ibw_ratio",
        "weight_basis",
        "egfr",
        "hiv_maintenance_stop_cd4",
        "hiv_maintenance_stop_cd4_upper",
        "hiv_maintenance_stop_months",
        "hiv_maintenance_restart_cd4",
        "hiv_lifelong_maintenance_cd4",
    }
)


def placeholders(template: str) -> set[str]:
    """The placeholder names a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render(template: str, context: Mapping[str, str]) -> str:
    return template.format_map(context)
