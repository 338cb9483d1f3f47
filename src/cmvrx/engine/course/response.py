"""Viral-load response and resistance.

Response: log10 change from the baseline PCR (the latest blood PCR at or before the start
of the current or last induction); after ``refractory_min_days`` a rise above
``refractory_log10_rise`` is refractory, an unchanged load (a fall smaller than
``viral_load_unchanged_log10``) or a smaller rise is probable refractory; either asks for
genotyping (course.toml ``genotype``: UL97 + UL54, UL56 after letermovir, UL27 after
maribavir) — unless an order is below today's label dose (then: correct the dose first).
Known mutations: what each implies (engine.resistance), and any active drug it compromises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from cmvrx.engine.course.state import (
    DAY,
    INDUCTION_PHASES,
    CourseState,
    finding,
    induction_run,
    param_cite,
)
from cmvrx.engine.resistance import describe, drugs_affected, rule_for
from cmvrx.model.assessment import (
    Finding,
    OrderCheck,
    PcrPoint,
    Response,
    ResponseClass,
)
from cmvrx.model.course import CmvPcr

# --- response -------------------------------------------------------------------------


def _point(p: CmvPcr) -> PcrPoint:
    return PcrPoint(p.at, p.result, p.value, p.lower_limit, p.specimen)


def _load(p: CmvPcr) -> float:
    """IU/mL for the log10 arithmetic: the value, or the assay limit when not quantified."""
    return p.value if p.result == "detected" and p.value else p.lower_limit


def _last_run_start(st: CourseState) -> datetime | None:
    for i in range(len(st.periods) - 1, -1, -1):
        if st.periods[i].phase in INDUCTION_PHASES:
            return induction_run(st.periods, i)[0].start
    return st.periods[0].start if st.periods else None


def response(st: CourseState, orders: Sequence[OrderCheck]) -> tuple[Response, list[Finding]]:
    k = st.knowledge
    start = _last_run_start(st)
    genes = _genes(st)
    if start is None or not st.pcrs:
        text = "no therapy recorded" if start is None else "no blood CMV PCR recorded"
        return Response("no_data", None, None, None, None, True, (), text), []
    before = [p for p in st.pcrs if p.at <= start]
    baseline = before[-1] if before else next((p for p in st.pcrs if p.at >= start), None)
    latest = st.pcrs[-1]
    underdosed = [
        o.ordered.drug for o in orders if o.verdict == "redose" and o.direction == "lower"
    ]
    # refractoriness presumes adequate dosing: an order that cannot be checked is not yet
    # known to be adequate ("verify dosing first")
    unverified = [o for o in orders if o.verdict == "unverifiable"]
    adequate = not underdosed and not unverified
    if baseline is None or baseline.result == "not_detected":
        return Response(
            "no_data",
            None,
            _point(latest),
            None,
            None,
            adequate,
            (),
            "no detectable baseline viral load",
        ), []
    change = round(math.log10(_load(latest)) - math.log10(_load(baseline)), 3)
    days = math.floor((latest.at - start) / DAY)
    min_days = k.number("refractory_min_days")
    rise = k.number("refractory_log10_rise")
    unchanged = k.number("viral_load_unchanged_log10")
    kind: ResponseClass
    if latest.result == "not_detected":
        kind = "cleared"
    elif latest is baseline or days < min_days:
        kind = "too_early"
    elif change > rise:
        kind = "refractory"
    elif change >= -unchanged:
        kind = "probable_refractory"
    else:
        kind = "responding"
    if kind in ("refractory", "probable_refractory") and not adequate:
        kind = "check_dosing"
    text = (
        f"{_describe(latest)} on day {days} vs baseline {_describe(baseline)}: {change:+.2f} log10"
    )
    result = Response(
        kind,
        _point(baseline),
        _point(latest),
        change,
        days,
        adequate,
        genes if kind in ("refractory", "probable_refractory") else (),
        text,
    )
    return result, _response_findings(st, result, underdosed, unverified)


def _describe(p: CmvPcr) -> str:
    if p.result == "not_detected":
        return f"not detected (< {p.lower_limit:g} IU/mL)"
    if p.result == "detected_below_lloq" or not p.value:
        return f"detected < {p.lower_limit:g} IU/mL"
    return f"{p.value:g} IU/mL"


def _response_findings(
    st: CourseState, r: Response, underdosed: list[str], unverified: Sequence[OrderCheck] = ()
) -> list[Finding]:
    k = st.knowledge
    names = ("refractory_min_days", "refractory_log10_rise", "viral_load_unchanged_log10")
    cite = param_cite(k, *names)
    if r.classification == "check_dosing" and not underdosed:
        checks = "; ".join(f"{o.ordered.drug}: {o.reason}" for o in unverified)
        return [
            finding(
                k,
                "CRS-RESPONSE-CHECK-DOSING",
                f"{r.text}, but the dose cannot be verified ({checks}): verify dosing first — "
                "refractory disease presumes adequate dosing; then re-assess the viral load.",
                cite=cite,
            )
        ]
    if r.classification == "check_dosing":
        return [
            finding(
                k,
                "CRS-RESPONSE-CHECK-DOSING",
                f"{r.text}, but {', '.join(underdosed)} is below the label dose for today's renal "
                "function: re-dose first, then re-assess the viral load weekly.",
                cite=cite,
            )
        ]
    rule = {
        "refractory": "CRS-RESPONSE-REFRACTORY",
        "probable_refractory": "CRS-RESPONSE-PROBABLE-REFRACTORY",
    }.get(r.classification)
    if rule is None:
        return []
    g = k.course.genotype if k.course else None
    return [
        finding(
            k,
            rule,
            f"{r.text} after ≥ {k.number('refractory_min_days'):g} days of therapy.",
            cite=cite,
        ),
        finding(
            k,
            "CRS-GENOTYPE",
            f"send genotypic resistance testing: {' + '.join(r.genotype_genes)} "
            "(genotyping may fail at low viral loads).",
            cite=g.cite if g else (),
        ),
    ]


def _genes(st: CourseState) -> tuple[str, ...]:
    g = st.knowledge.course.genotype if st.knowledge.course else None
    if g is None:
        return ()
    ordered = {d for p in st.periods for d in p.drugs}
    meds = st.facts.medications
    genes = list(g.genes)
    if "letermovir" in ordered or "letermovir" in meds:
        genes.extend(g.after_letermovir)
    if "maribavir" in ordered or "maribavir" in meds:
        genes.extend(g.after_maribavir)
    return tuple(dict.fromkeys(genes))


# --- known resistance -----------------------------------------------------------------


def resistance(st: CourseState) -> list[Finding]:
    k = st.knowledge
    current = st.current
    active = current.drugs if current is not None and current.phase != "stopped" else frozenset()
    out: list[Finding] = []
    for m in sorted(st.case.resistance_mutations, key=lambda m: (m.gene.value, m.mutation)):
        rule = rule_for(m, k)
        based_on = (rule.id,) if rule else ()
        cite = rule.cite if rule else ()
        out.append(
            finding(
                k,
                "CRS-RESISTANCE-KNOWN",
                describe(m, k, st.case.resistance_mutations),
                based_on=based_on,
                cite=cite,
            )
        )
        for drug in sorted(drugs_affected(m, k) & active):
            out.append(
                finding(
                    k,
                    "CRS-RESISTANCE-ACTIVE-DRUG",
                    f"{drug} is active but {m.gene.value} {m.mutation} confers resistance to it: "
                    "change therapy (specialist review).",
                    based_on=based_on,
                    cite=cite,
                    drug=drug,
                )
            )
    return out
