"""May this drug be used for this patient? The checks a plan and a quick dose share.

Two kinds of check, both read from the knowledge and the same ``Situation``:

- the knowledge's **refusal rules** for the drug (``[[refusal]]`` in regimens.toml),
  evaluated by the predicates of ``engine.predicates``; when a check needs an input the
  caller does not have (a quick dose knows no disease site), the predicate is *unknown*
  and the rule is reported as **not checked**, never silently passed;
- the drug's own **label eligibility** — cidofovir: SCr, CrCl, urine protein, fresh labs,
  intolerance, resistance — split into contraindications and data to measure.

The plan uses ``cidofovir_checks`` for its ``cidofovir_eligible`` predicate and
``first_refusal`` for the oral step-down; ``engine.quick`` uses both for a single drug.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cmvrx.engine.intake import Facts
from cmvrx.engine.predicates import PREDICATES, Situation
from cmvrx.frozen import fast_init
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.schema import Refusal
from cmvrx.model.plan import RenalFunction

#: A predicate that may not be decidable from the inputs given: ``None`` = unknown.
TriPredicate = Callable[[Situation], bool | None]


@fast_init
@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a drug cannot be given now; ``measure`` is set when data are missing."""

    text: str
    measure: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class RefusalCheck:
    """A refusal rule and whether it applies (``None``: not decidable from the input)."""

    rule: Refusal
    applies: bool | None


def tri_holds(
    s: Situation,
    when: tuple[str, ...],
    unless: tuple[str, ...],
    partial: Mapping[str, TriPredicate],
) -> bool | None:
    """``predicates.holds`` in three-valued logic: predicates in ``partial`` may be unknown."""
    unknown = False
    for name in when:
        value = partial[name](s) if name in partial else PREDICATES[name](s)
        if value is False:
            return False
        unknown = unknown or value is None
    for name in unless:
        value = partial[name](s) if name in partial else PREDICATES[name](s)
        if value is True:
            return False
        unknown = unknown or value is None
    return None if unknown else True


def refusal_checks(
    s: Situation, drug: str, partial: Mapping[str, TriPredicate] | None = None
) -> tuple[RefusalCheck, ...]:
    """Every conditional refusal rule of ``drug`` with whether it applies to ``s``."""
    return tuple(
        RefusalCheck(r, tri_holds(s, r.when, r.unless, partial or {}))
        for r in s.knowledge.refusals
        if r.drug == drug and (r.when or r.unless)
    )


def first_refusal(s: Situation, drug: str) -> Refusal | None:
    """The first refusal rule with a condition that applies to ``s`` (every input known)."""
    return next((c.rule for c in refusal_checks(s, drug) if c.applies and c.rule.when), None)


# --------------------------------------------------------------------------- cidofovir


def cidofovir_checks(
    f: Facts, k: Knowledge, r: RenalFunction, resistant_to: frozenset[str]
) -> tuple[Problem, ...]:
    """Every reason cidofovir cannot be started (label: SCr ≤ 1.5 mg/dL, CrCl > 55 mL/min,
    urine protein < 100 mg/dL (< 2+), each within 48 h; no probenecid/sulfa allergy)."""
    c = k.derived(("cidofovir_limits",), _cidofovir_limits)
    problems = []
    if f.case.intolerance.cidofovir:
        problems.append(Problem("cidofovir intolerance"))
    if f.case.intolerance.probenecid_or_sulfa_allergy:
        problems.append(Problem("probenecid/sulfa hypersensitivity (probenecid is mandatory)"))
    if "cidofovir" in resistant_to:
        problems.append(Problem("resistance"))
    crcl = r.creatinine_clearance_ml_min
    if r.dialysis != "none":
        # no clearance on dialysis (the renal section says why): refused here
        problems.append(Problem("dialysis (CrCl ≤ 55 mL/min)"))
    elif crcl is None:
        problems.append(_no_crcl(f, r))
    elif crcl <= c.crcl:
        problems.append(Problem(f"CrCl {crcl:.0f} ≤ {c.crcl:g} mL/min"))
    scr = r.serum_creatinine_mg_dl
    if scr is not None and scr > c.scr:
        problems.append(Problem(f"SCr {scr:g} > {c.scr:g} mg/dL"))
    # Boxed warning: SCr (not only urine protein) within 48 h before each dose; the general
    # 72 h creatinine freshness limit is not enough for cidofovir (S-CDV-GLOBALRPH).
    if f.creatinine is None or f.creatinine.age_hours > c.lab_age:
        problems.append(c.measure_scr)
    problems.extend(_urine_protein_problems(f, c))
    return tuple(problems)


@fast_init
@dataclass(frozen=True, slots=True)
class _CidofovirLimits:
    """cidofovir's label limits and its fixed "measure it" problems, built once per
    knowledge (the texts name knowledge numbers only)."""

    crcl: float
    scr: float
    lab_age: float
    urine_protein: float
    measure_scr: Problem
    measure_urine_protein: Problem


def _cidofovir_limits(k: Knowledge) -> _CidofovirLimits:
    lab_age = k.number("cidofovir_lab_max_age_hours")
    return _CidofovirLimits(
        crcl=_cidofovir_crcl_limit(k),
        scr=k.number("cidofovir_max_serum_creatinine"),
        lab_age=lab_age,
        urine_protein=k.number("cidofovir_max_urine_protein"),
        measure_scr=Problem(
            f"serum creatinine within {lab_age:g} h: measure it",
            measure=f"serum creatinine (within {lab_age:g} h)",
        ),
        measure_urine_protein=Problem(
            f"urine protein within {lab_age:g} h: measure it",
            measure=f"urine protein (within {lab_age:g} h)",
        ),
    )


def _no_crcl(f: Facts, r: RenalFunction) -> Problem:
    """Why cidofovir's CrCl criterion cannot be checked (not always an unmeasured creatinine)."""
    if r.egfr_bedside_schwartz is not None:
        return Problem(
            "child: the label's CrCl criterion is adult Cockcroft–Gault — specialist review"
        )
    if f.creatinine is None:
        return Problem("CrCl unknown: measure serum creatinine", measure="serum creatinine")
    return Problem(f"CrCl not estimated: {r.insufficient or 'renal data insufficient'}")


def _cidofovir_crcl_limit(k: Knowledge) -> float:
    """CrCl at or below which cidofovir is contraindicated (its lowest recommended band)."""
    return min(b.lower for b in k.schedules["cidofovir.induction"].band if b.recommended)


def _urine_protein_problems(f: Facts, c: _CidofovirLimits) -> list[Problem]:
    if not f.urine_protein_fresh:
        return [c.measure_urine_protein]
    if f.urine_protein_mg_dl is not None and f.urine_protein_mg_dl >= c.urine_protein:
        return [Problem(f"urine protein {f.urine_protein_mg_dl:g} ≥ {c.urine_protein:g} mg/dL")]
    if f.urine_dipstick in ("2+", "3+", "4+"):
        return [Problem(f"urine protein {f.urine_dipstick} (≥ 2+)")]
    return []
