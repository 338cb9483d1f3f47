"""Findings on the recorded data itself: events set aside by ``review``.

Pure. Each invalid event and each held measurement is one finding naming its ``seq``,
what was recorded and what to do (the CLI commands are in docs/course.md); events
entered in error are summed up in one info finding. Orders a held weight or creatinine
would re-check are reported unverifiable instead of re-dosed.
"""

from __future__ import annotations

from cmvrx.engine.course.review import Review
from cmvrx.engine.course.state import CourseState, finding
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.assessment import Finding, OrderCheck


def review_findings(k: Knowledge, review: Review, course_id: str) -> list[Finding]:
    """One finding per invalid or held event; one for all events entered in error."""
    out: list[Finding] = []
    retracted = [s for s in review.set_aside if s.status == "entered_in_error"]
    for s in review.set_aside:
        when = f"{s.at:%Y-%m-%d %H:%M}"
        if s.status == "invalid":
            out.append(
                finding(
                    k,
                    "CRS-DATA-EVENT-INVALID",
                    f"seq {s.seq} ({s.what}, {when}) is ignored: {s.reason}. Mark it"
                    f" entered in error (cmvrx course retract {course_id} {s.seq} --reason …)"
                    " and record the corrected value.",
                )
            )
        elif s.status == "held":
            out.append(
                finding(
                    k,
                    "CRS-DATA-MEASUREMENT-HELD",
                    f"seq {s.seq} ({s.what}, {when}) is held for confirmation: {s.reason}. It is"
                    " not used for any dose; the doses shown use the last accepted value. If it"
                    f" is right: cmvrx course confirm {course_id} {s.seq} (or re-measure); if"
                    f" not: cmvrx course retract {course_id} {s.seq} --reason … and record the"
                    " right value.",
                )
            )
    if retracted:
        listed = ", ".join(f"seq {s.seq} ({s.what})" for s in retracted)
        out.append(
            finding(
                k,
                "CRS-DATA-ENTERED-IN-ERROR",
                f"{len(retracted)} event(s) marked entered in error and ignored: {listed}.",
            )
        )
    return out


def held_order_findings(
    st: CourseState, orders: tuple[OrderCheck, ...], findings: list[Finding]
) -> list[Finding]:
    """Order findings once held measurements made some orders unverifiable."""
    held = {o.ordered.drug for o in orders if o.reason.startswith("confirm or re-measure")}
    kept = [f for f in findings if f.drug not in held or f.rule_id != "CRS-ORDER-REDOSE"]
    for o in orders:
        if o.ordered.drug in held:
            kept.append(
                finding(
                    st.knowledge,
                    "CRS-ORDER-UNVERIFIABLE",
                    f"{o.ordered.drug} {o.ordered.dose_mg:g} mg {o.ordered.interval} cannot be"
                    f" checked: {o.reason}.",
                    based_on=(o.rule_id,) if o.rule_id else (),
                    cite=o.cite,
                    drug=o.ordered.drug,
                )
            )
    return kept
