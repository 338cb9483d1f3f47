"""Fill the ``{placeholders}`` of knowledge messages from a situation.

The placeholder names are a closed set (``PLACEHOLDERS``); a test proves that every
message in the knowledge uses only these.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator, Mapping

from cmvrx.engine.predicates import (
    Situation,
    foscarnet_unusable,
    ganciclovir_unusable,
    low_electrolytes,
    missing_electrolytes,
)
from cmvrx.knowledge.bundle import Knowledge


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


_PARAMETERS = (
    "hiv_maintenance_stop_cd4",
    "hiv_maintenance_stop_cd4_upper",
    "hiv_maintenance_stop_months",
    "hiv_maintenance_restart_cd4",
    "hiv_lifelong_maintenance_cd4",
)


def _missing_counts(s: Situation) -> str:
    f = s.facts
    pairs = (("ANC", f.anc), ("platelets", f.platelets), ("hemoglobin", f.hemoglobin))
    return ", ".join(n for n, x in pairs if x is None or not x.fresh)


def _ibw_ratio(s: Situation) -> str:
    ibw = s.renal.ideal_weight_kg
    return _fmt(s.facts.weight_kg / ibw if ibw else None, ".2f")


def _maribavir_dose(s: Situation) -> str:
    """The label's maribavir dose for this patient's co-medications (an inducer raises it)."""
    schedule = s.knowledge.schedule_for("maribavir", "refractory_treatment", "standard")
    row = schedule.fixed
    for modifier in schedule.modifier:
        if s.facts.medications & {m.lower() for m in modifier.when_medication_any}:
            row = modifier
            break
    if row is None or row.dose is None or row.interval is None:
        return "not known"
    return f"{row.dose:g} mg {row.interval.value}"


# placeholder -> its display value for a situation
_SITUATION_VALUES: Mapping[str, Callable[[Situation], str]] = {
    "crcl_ml_min": lambda s: _fmt(s.renal.creatinine_clearance_ml_min),
    "dialysis": lambda s: {"crrt": "CRRT", "peritoneal": "Peritoneal dialysis"}.get(
        s.renal.dialysis, s.renal.dialysis
    ),
    "anc": lambda s: _fmt(s.facts.anc.value if s.facts.anc else None),
    "cytopenias": lambda s: "; ".join(s.cytopenias),
    "missing_counts": _missing_counts,
    "missing_electrolytes": lambda s: ", ".join(missing_electrolytes(s)),
    "low_electrolytes": lambda s: ", ".join(low_electrolytes(s)),
    "unusable_reasons": _unusable_reasons,
    "resistance_summary": _resistance_summary,
    "weight_kg": lambda s: _fmt(s.facts.weight_kg, ".1f"),
    "ibw_kg": lambda s: _fmt(s.renal.ideal_weight_kg, ".1f"),
    "ibw_ratio": _ibw_ratio,
    "weight_basis": lambda s: s.renal.weight_basis,
    "egfr": lambda s: _fmt(s.renal.egfr_bedside_schwartz),
    "maribavir_dose": _maribavir_dose,
}

PLACEHOLDERS = frozenset((*_SITUATION_VALUES, *_PARAMETERS))


def parameter_context(k: Knowledge) -> Mapping[str, str]:
    """The placeholders filled from knowledge parameters alone (same for every patient)."""
    found: Mapping[str, str] | None = k.memo.get(("parameter_context",))
    if found is None:
        found = k.memo[("parameter_context",)] = {
            name: f"{k.number(name):g}" for name in _PARAMETERS
        }
    return found


class _Context(Mapping[str, str]):
    """Placeholder values, each computed on first use: a plan fills only the few
    placeholders of the alerts that fire, and some (resistance, reasons) are costly."""

    __slots__ = ("_s", "_values")

    def __init__(self, s: Situation) -> None:
        self._s = s
        self._values = dict(parameter_context(s.knowledge))

    def __getitem__(self, name: str) -> str:
        value = self._values.get(name)
        if value is None:
            value = self._values[name] = _SITUATION_VALUES[name](self._s)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(PLACEHOLDERS)

    def __len__(self) -> int:
        return len(PLACEHOLDERS)


def alert_context(s: Situation) -> Mapping[str, str]:
    """Values for every placeholder, as display strings."""
    return _Context(s)


def placeholders(template: str) -> set[str]:
    """The placeholder names a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render(template: str, context: Mapping[str, str]) -> str:
    return template.format_map(context)
