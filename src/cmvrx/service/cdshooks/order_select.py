"""``order-select``: the regimen guidance as soon as a CMV antiviral is picked.

No clinical logic here: the prefetch and the draft orders go through the FHIR mapping
(``cmvrx.fhir.inbound``) to a case, ``cmvrx.api.plan`` makes this patient's plan, and this
module only picks out what concerns each selected CMV antiviral (``context.selections``):

- the drug in the plan → one ``info`` card: the regimen, the drug's dose for today's
  kidneys in each phase the plan gives it (or what to measure when a dose needs data),
  what to monitor, the plan's warnings — rule ids, sources, knowledge version;
- the drug refused for this patient (e.g. letermovir as treatment) → one ``warning``
  card with the reason and what to use instead;
- the drug neither in the plan nor refused → one ``info`` card naming the regimen cmvrx
  plans instead;
- a record that cannot make a case → one ``info`` card saying what to record or
  measure, never a dose.

A selection that is not a CMV antiviral draws no card (no noise). The order is not yet
complete at this hook: its dose is checked at ``order-sign``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from cmvrx.model.plan import DISCLAIMER
from cmvrx.service.cdshooks.cards import card
from cmvrx.service.cdshooks.models import Card

_SUMMARY_MAX = 139
_PHASE_KEYS = ("induction", "step_down", "maintenance")


def order_select_cards(
    prefetch: Mapping[str, Any],
    drafts: Mapping[str, Any],
    selections: Sequence[str],
    *,
    as_of: datetime,
    no_dialysis_unless_recorded: bool = False,
) -> list[Card]:
    """The guidance cards for the selected draft orders of ``drafts`` (a Bundle)."""
    from cmvrx import api
    from cmvrx.errors import CmvrxError
    from cmvrx.fhir import inbound

    resources = [v for v in prefetch.values() if isinstance(v, Mapping)]
    mapped = inbound.read(
        [*resources, dict(drafts)],
        as_of=as_of,
        no_dialysis_unless_recorded=no_dialysis_unless_recorded,
    )
    drugs = _selected_antivirals(mapped.drugs, set(selections))
    if not drugs:
        return []
    if mapped.case is None:
        return [_needs_data(drug, what_to_record(mapped.problems)) for drug in drugs]
    try:
        plan = api.plan(mapped.case, as_of=as_of).to_dict()
    except CmvrxError as exc:
        return [_needs_data(drug, str(exc)) for drug in drugs]
    return [_guidance(drug, plan) for drug in drugs]


def _selected_antivirals(uses: Iterable[Any], selections: set[str]) -> list[str]:
    out: list[str] = []
    for use in uses:
        chosen = use.resource in selections and use.role == "cmv_antiviral"
        if chosen and use.ingredient not in out:
            out.append(use.ingredient)
    return out


def what_to_record(problems: Iterable[Any]) -> str:
    """The record's problems that keep it from making a case, missing facts first (a
    draft order still being written is not one of them)."""
    about_record = [p for p in problems if p.kind != "order_incomplete"]
    about_record.sort(key=lambda p: p.kind != "missing_fact")
    return "; ".join(f"{p.kind}: {p.message}" for p in about_record[:6]) or "the record"


def _needs_data(drug: str, missing: str) -> Card:
    return card(
        _short(f"cmvrx: {drug} — insufficient data for a dose; record or measure what is missing"),
        "info",
        detail=f"Record or measure: {missing}. No dose is suggested.\n\n{DISCLAIMER}",
    )


def _doses(plan: Mapping[str, Any], drug: str) -> list[Mapping[str, Any]]:
    regimen, maintenance = plan["regimen"], plan["maintenance"]
    step = regimen.get("step_down") or {}
    found = [
        *regimen["induction"],
        *([step["dose"]] if step.get("dose") else []),
        *maintenance["options"],
    ]
    return [d for d in found if d["drug"] == drug]


def _guidance(drug: str, plan: Mapping[str, Any]) -> Card:
    doses = _doses(plan, drug)
    version = plan["provenance"]["knowledge_version"]
    refused = [r for r in plan["refused"] if r["drug"] == drug]
    regimen = plan["regimen"]
    if not doses and refused:
        r = refused[0]
        return card(
            _short(f"cmvrx: {drug} is not recommended for this patient — {r['reason']}"),
            "warning",
            detail="\n".join(
                [
                    f"{r['reason']} Instead: {r['instead']} ({r['rule_id']}; {', '.join(r['cite'])})",
                    f"Knowledge {version}. {DISCLAIMER}",
                ]
            ),
        )
    head = _regimen_line(regimen)
    if not doses:
        return card(
            _short(f"cmvrx: {drug} is not in the regimen planned — {regimen['title']}"),
            "info",
            detail="\n".join([head, f"Knowledge {version}. {DISCLAIMER}"]),
        )
    lines = [head, "", f"**{doses[0]['drug_name']} for this patient today:**"]
    lines += [_dose_line(d) for d in doses]
    lines += ["", "**Monitor:**"]
    lines += [
        f"- {m['test']}: {m['frequency']} ({m['rule_id']}; {', '.join(m['cite'])})"
        for m in plan["monitoring"]
    ]
    alerts = [a for a in plan["alerts"] if a["severity"] in ("warning", "critical")]
    if alerts:
        lines += ["", "**Warnings:**"]
        lines += [f"- {a['message']} ({a['rule_id']}; {', '.join(a['cite'])})" for a in alerts]
    lines += ["", f"Knowledge {version}. {DISCLAIMER}"]
    return card(_short(_summary(drug, doses[0])), "info", detail="\n".join(lines))


def _regimen_line(regimen: Mapping[str, Any]) -> str:
    cites = ", ".join(regimen["cite"])
    return (
        f"Regimen: {regimen['title']} ({regimen['rule_id']}; {cites}). {regimen['rationale']}"
        f" Duration: {regimen['duration']}."
    )


def _summary(drug: str, dose: Mapping[str, Any]) -> str:
    dosage = dose.get("dosage") or {}
    if dose["status"] == "dose" and dosage.get("text"):
        return f"cmvrx: {dose['phase']} for this patient: {dosage['text']}"
    if dose["status"] == "insufficient_data":
        return f"cmvrx: {drug} {dose['phase']} — insufficient data: measure {dose['measure']}"
    return f"cmvrx: {drug} {dose['phase']} — {dose['status'].replace('_', ' ')}: see detail"


def _dose_line(dose: Mapping[str, Any]) -> str:
    cites = ", ".join(dose["cite"])
    where = f"({dose['rule_id']}; {cites})"
    dosage = dose.get("dosage") or {}
    if dose["status"] == "dose" and dosage.get("text"):
        basis = f" — {dose['renal_basis']}" if dose.get("renal_basis") else ""
        extra = [*dose.get("infusion", ()), *dose.get("hydration", ())]
        tail = f"; {'; '.join(extra)}" if extra else ""
        nc = (
            " (NOT CONFIRMED: " + ", ".join(dose["not_confirmed"]) + ")"
            if dose.get("not_confirmed")
            else ""
        )
        return f"- {dose['phase']}: {dosage['text']}{basis}{tail}{nc} {where}"
    if dose["status"] == "insufficient_data":
        return f"- {dose['phase']}: insufficient data — measure {dose['measure']} {where}"
    reason = dose.get("reason") or dose.get("note") or dose["status"].replace("_", " ")
    instead = f" Instead: {dose['instead']}" if dose.get("instead") else ""
    return f"- {dose['phase']}: no dose — {reason}.{instead} {where}"


def _short(text: str) -> str:
    """A summary under 140 characters (the spec's limit)."""
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1] + "…"
