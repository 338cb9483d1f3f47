"""``patient-view``: where a CMV antiviral course stands, as cards — or nothing.

No clinical logic here: ``cmvrx.api.review_record`` (the audit's patient-level review:
``check_order`` on every active CMV antiviral order and ``assess_course`` on the course the
record describes) says what is wrong; this module only turns its findings into cards:

- a dose, interval or route wrong for today's kidneys or counts → ``warning`` (or the
  finding's ``critical``) with a suggestion that updates that active MedicationRequest
  (same id) to the corrected order;
- cytopenias, electrolytes, a drug not to be used, refractory disease without a
  genotype, a premature stop → one card each, indicator from the finding's severity;
- tests overdue → one card listing them all;
- maintenance eligible to stop → ``info``;
- a record that cannot be judged → what to record or measure, never a dose.

A patient on no CMV antiviral, or whose course has nothing to say, gets no card.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from cmvrx.model.plan import DISCLAIMER
from cmvrx.service.cdshooks.cards import card, suggestion, update_action
from cmvrx.service.cdshooks.models import Card, Indicator

_SUMMARY_MAX = 139
#: how each finding kind reads on a card (docs/audit.md has the vocabulary)
TITLES: Mapping[str, str] = {
    "dose_too_high": "re-dose for today",
    "dose_too_low": "re-dose for today",
    "wrong_interval": "re-dose for today",
    "not_recommended": "not to be used",
    "cytopenia_hold": "blood counts",
    "cytopenia_watch": "falling counts",
    "electrolytes_low": "electrolytes",
    "nephrotoxicity": "kidney function",
    "test_overdue": "tests overdue",
    "refractory_no_genotype": "refractory, no genotype",
    "premature_stop": "stopped too early",
    "maintenance_stop_eligible": "maintenance may stop",
    "maintenance_restart": "maintenance restart",
    "insufficient_data": "insufficient data",
}
_REDOSE = frozenset({"dose_too_high", "dose_too_low", "wrong_interval"})
_RANK = {"info": 0, "warning": 1, "critical": 2}
_INDICATORS: Mapping[str, Indicator] = {
    "info": "info",
    "warning": "warning",
    "critical": "critical",
}


def patient_view_cards(
    prefetch: Mapping[str, Any], *, as_of: datetime, no_dialysis_unless_recorded: bool = False
) -> list[Card]:
    """The cards for the patient whose record is ``prefetch``."""
    from cmvrx import api

    resources = [v for v in prefetch.values() if isinstance(v, Mapping)]
    from cmvrx.errors import CmvrxError

    try:
        review = api.review_record(
            resources, as_of=as_of, no_dialysis_unless_recorded=no_dialysis_unless_recorded
        )
    except CmvrxError as exc:  # the record cannot be reviewed: say why, never a dose
        return [
            card(
                _short(f"cmvrx cannot review the CMV antiviral course: {exc}"),
                "warning",
                detail=f"{exc}. No dose is suggested.\n\n{DISCLAIMER}",
            )
        ]
    if not review.on_cmv_antiviral or not review.findings:
        return []
    orders = _active_orders(resources)
    version = review.knowledge_version
    out = [_card(group, orders, version) for group in _groups(review.findings)]
    overdue = [f for f in review.findings if f.kind == "test_overdue"]
    if overdue:
        out.append(_overdue_card(overdue, version))
    return out


def _groups(findings: Sequence[Any]) -> list[list[Any]]:
    """One group per finding, except that an order's dose, interval and daily-total
    findings are one (one card, one corrected order); overdue tests are apart."""
    groups: list[list[Any]] = []
    redose: dict[str, list[Any]] = {}
    for f in findings:
        if f.kind == "test_overdue":
            continue
        if f.order_id and f.kind in _REDOSE:
            if f.order_id not in redose:
                redose[f.order_id] = []
                groups.append(redose[f.order_id])
            redose[f.order_id].append(f)
        else:
            groups.append([f])
    return groups


def _active_orders(resources: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The MedicationRequests of the record by id (a bundle's entries or a resource)."""
    out: dict[str, Mapping[str, Any]] = {}
    for value in resources:
        entries = (
            value.get("entry") if value.get("resourceType") == "Bundle" else [{"resource": value}]
        )
        for entry in entries or ():
            r = entry.get("resource") if isinstance(entry, Mapping) else None
            if (
                isinstance(r, Mapping)
                and r.get("resourceType") == "MedicationRequest"
                and r.get("id")
            ):
                out[str(r["id"])] = r
    return out


def _card(group: Sequence[Any], orders: Mapping[str, Mapping[str, Any]], version: str) -> Card:
    f = group[0]
    worst = max((g.severity for g in group), key=lambda sev: _RANK.get(sev, 1))
    indicator = _INDICATORS.get(worst, "warning")
    title = TITLES.get(f.kind, f.kind.replace("_", " "))
    who = f"{f.drug} " if f.drug else ""
    lines = [line for g in group for line in _lines(g)]
    detail = "\n".join([*lines, f"Knowledge {version}. {DISCLAIMER}"])
    suggestions = []
    corrected = next((g.corrected_dose for g in group if g.corrected_dose), None)
    order = orders.get(f.order_id or "")
    if corrected and order is not None:
        from cmvrx.service.cdshooks.order_sign import updated_order

        text = corrected.get("text") or "the corrected dose"
        action = update_action(
            f"Update the active order to {text}", updated_order(order, corrected)
        )
        suggestions.append(suggestion(_short(f"Change to {text}"), [action], recommended=True))
    return card(
        _short(f"cmvrx: {who}{title} — {f.summary}"),
        indicator,
        detail=detail,
        suggestions=suggestions,
    )


def _overdue_card(findings: Sequence[Any], version: str) -> Card:
    worst: Indicator = "warning" if any(f.severity != "info" for f in findings) else "info"
    lines = [line for f in findings for line in _lines(f)]
    return card(
        _short(f"cmvrx: {len(findings)} monitoring test(s) overdue — {findings[0].summary}"),
        worst,
        detail="\n".join([*lines, f"Knowledge {version}. {DISCLAIMER}"]),
    )


def _lines(f: Any) -> list[str]:
    cites = ", ".join(f.citations)
    lines = [f"- {f.summary} ({f.rule_id}{'; ' + cites if cites else ''})"]
    if f.current_dose and f.current_dose.get("text"):
        lines.append(f"  - ordered: {f.current_dose['text']}")
    if f.corrected_dose and f.corrected_dose.get("text"):
        lines.append(f"  - for today: {f.corrected_dose['text']}")
    for d in f.data_used[:8]:
        unit = f" {d['unit']}" if d.get("unit") else ""
        date = f" ({d['date']})" if d.get("date") else ""
        lines.append(f"  - {d.get('what')}: {d.get('value')}{unit}{date}")
    return lines


def _short(text: str) -> str:
    """A summary under 140 characters (the spec's limit)."""
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1] + "…"
