"""``order-sign``: every draft CMV antiviral order judged by the one order check.

No clinical logic here: the prefetch and the draft orders go through the FHIR mapping
layer (``cmvrx.fhir.inbound``) to a case and order documents, and ``cmvrx.check_order``
judges them. This module only turns the judgement into cards: ``adjust`` → a warning with
a suggestion that updates that exact draft (same id) to the corrected order;
``not_recommended`` → critical; ``insufficient_data`` → what to measure, never a dose;
``ok`` → no card. A patient whose record cannot make a case (a fact missing, a unit that
does not fit its code) gets one card saying what to record — never a dose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmvrx.errors import CmvrxError, InputError
from cmvrx.model.dosage import from_drug_dose
from cmvrx.model.plan import DISCLAIMER
from cmvrx.service.cdshooks.cards import card, suggestion, update_action
from cmvrx.service.cdshooks.models import Card, Indicator

#: verdict -> card indicator (``ok`` draws no card)
INDICATOR: Mapping[str, Indicator] = {
    "adjust": "warning",
    "not_recommended": "critical",
    "insufficient_data": "warning",
}
_SUMMARY_MAX = 139


def order_sign_cards(
    prefetch: Mapping[str, Any],
    drafts: Mapping[str, Any],
    *,
    as_of: Any,
    no_dialysis_unless_recorded: bool = False,
) -> list[Card]:
    """The cards for the draft orders ``drafts`` (a Bundle) given the ``prefetch``.

    Dialysis is never assumed (docs/fhir.md): without a recorded dialysis status the card
    asks for it, unless the deployment accepts "no dialysis unless recorded"."""
    import cmvrx
    from cmvrx.fhir import inbound

    resources = [v for v in prefetch.values() if isinstance(v, Mapping)]

    def read(full: bool) -> inbound.InboundResult:
        return inbound.read(
            [*resources, dict(drafts)],
            as_of=as_of,
            no_dialysis_unless_recorded=no_dialysis_unless_recorded,
            events=full,
            newest_only=not full,
        )

    # the case and the drafts are what is used here: no course events, and of each
    # analyte only the newest valid observation (the value the case takes) is read
    mapped = read(full=False)

    draft_ids = {
        f"MedicationRequest/{e['resource'].get('id')}"
        for e in drafts.get("entry") or ()
        if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
    }
    unread = [p for p in mapped.problems if p.resource in draft_ids]
    out = [_unread_card(p.resource, p.message) for p in unread]
    orders = []
    for doc in mapped.orders:  # an order the check cannot parse is named, not fatal
        try:
            orders.append(cmvrx.parse_order(doc))
        except InputError as exc:
            out.append(_unread_card(f"MedicationRequest/{doc.get('id')}", str(exc)))
    if not orders:
        return out  # no (readable) draft CMV antiviral: nothing more to say
    if mapped.case is None:
        mapped = read(full=True)  # every problem, as the card lists the first ones
        missing = "; ".join(f"{p.kind}: {p.message}" for p in mapped.problems[:6])
        return [
            *out,
            card(
                _short("cmvrx cannot check the CMV antiviral order: the record is incomplete"),
                "warning",
                detail=f"Record or measure: {missing}. No dose is suggested.\n\n{DISCLAIMER}",
            ),
        ]
    try:
        check = cmvrx.check_order(mapped.case, orders, as_of=as_of).to_dict()
    except CmvrxError as exc:  # the record or the orders cannot be judged: say why
        return [*out, _cannot_check(str(exc))]
    by_id = {
        e["resource"]["id"]: e["resource"]
        for e in drafts.get("entry") or ()
        if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
        and e["resource"].get("id")
    }  # fmt: skip
    version = check["knowledge_version"]
    for result in check["results"]:
        indicator = INDICATOR.get(result["verdict"])
        if indicator is not None:
            out.append(_card(result, indicator, by_id, version))
        elif result["verdict"] == "ok":
            out += _ok_cards(result, mapped.case, as_of, version)
    return out


def _ok_cards(result: Mapping[str, Any], case: Any, as_of: Any, version: str) -> list[Card]:
    """A right order draws no card about its dose. Advice the check gives beside the
    verdict (a drug outside the regimen chosen, a current interaction) is one warning;
    else the label's hydration for this dose (foscarnet, cidofovir) is one info reminder."""
    order = result["order"]
    advice = [f for f in result["findings"] if f["severity"] in ("warning", "critical")]
    if advice:
        lines = [f"- {f['message']} ({f['rule_id']}; {', '.join(f['citations'])})" for f in advice]
        return [
            card(
                _short(f"cmvrx: {order['drug']} dose is right — {advice[0]['message']}"),
                "warning",
                detail="\n".join(
                    [f"Ordered: {order['text']}", *lines, f"Knowledge {version}. {DISCLAIMER}"]
                ),
            )
        ]
    reminders = _hydration(case, as_of, result)
    if not reminders:
        return []
    return [
        card(
            _short(f"cmvrx: {order['drug']} dose is right — hydration with each infusion"),
            "info",
            detail="\n".join(
                [
                    f"Ordered: {order['text']} (judged as {result.get('assumed_phase')})",
                    *[f"- {r}" for r in reminders],
                    f"Knowledge {version}. {DISCLAIMER}",
                ]
            ),
        )
    ]


def _hydration(case: Any, as_of: Any, result: Mapping[str, Any]) -> list[str]:
    """The label's hydration for the dose the order was judged against: the plan's dose
    of that drug, phase and foscarnet column — used only if it is that very dose (same
    text as the check's ``label_dose``); none for drugs without hydration."""
    from cmvrx import api
    from cmvrx.errors import CmvrxError

    drug, phase = result["order"]["drug"], result.get("assumed_phase")
    label = api.load_knowledge().drugs.get(drug)
    if phase is None or label is None or not (label.hydration or label.first_dose_hydration):
        return []
    column = result.get("assumed_column")
    key = f"foscarnet_{phase}_column"
    if drug == "foscarnet" and column and key in type(case).model_fields:
        case = case.model_copy(update={key: column})
    try:
        plan = api.plan(case, as_of=as_of)
    except CmvrxError:
        return []
    step = plan.regimen.step_down.dose if plan.regimen.step_down else None
    for dose in (*plan.regimen.induction, *([step] if step else []), *plan.maintenance.options):
        dosage = from_drug_dose(dose) if dose.drug == drug and dose.phase == phase else None
        if dosage is not None and dosage.text == result.get("label_dose") and dose.hydration:
            return list(dose.hydration)
    return []


def _cannot_check(reason: str) -> Card:
    return card(
        _short(f"cmvrx cannot check the CMV antiviral orders: {reason}"),
        "warning",
        detail=f"{reason}. No dose is suggested.\n\n{DISCLAIMER}",
    )


def _unread_card(resource: str, message: str) -> Card:
    """A draft order the mapping could not read (e.g. no route): say so, suggest nothing."""
    return card(
        _short(f"cmvrx cannot check {resource}: {message}"),
        "warning",
        detail=f"The draft order could not be read: {message}. No dose is suggested.\n\n{DISCLAIMER}",
    )


def _card(
    result: Mapping[str, Any],
    indicator: Indicator,
    drafts: Mapping[str, Mapping[str, Any]],
    version: str,
) -> Card:
    order, corrected = result["order"], result.get("corrected")
    verdict = result["verdict"].replace("_", " ")
    head = f"cmvrx: {order['drug']} {verdict}"
    if corrected:
        head += f" — {corrected['text']}"
    findings = [f for f in result["findings"] if f["rule_id"] != "ORD-OK"]
    lines = [f"- {f['message']} ({f['rule_id']}; {', '.join(f['citations'])})" for f in findings]
    phase = result.get("assumed_phase")
    detail = "\n".join(
        [
            f"Ordered: {order['text']}" + (f" (judged as {phase})" if phase else ""),
            *lines,
            f"Knowledge {version}. {DISCLAIMER}",
        ]
    )
    suggestions = []
    draft = drafts.get(result.get("order_id") or "")
    if corrected and draft is not None:
        suggestions.append(
            suggestion(
                _short(f"Change to {corrected['text']} (as {phase or 'ordered'})"),
                [
                    update_action(
                        f"Update the draft order to {corrected['text']}",
                        updated_order(draft, corrected),
                    )
                ],
                recommended=True,
            )
        )
    return card(_short(head), indicator, detail=detail, suggestions=suggestions)


def updated_order(draft: Mapping[str, Any], corrected: Mapping[str, Any]) -> dict[str, Any]:
    """The draft MedicationRequest (same id) with the corrected dose and timing. A new
    top-level object; the parts kept are the draft's own (neither is changed after)."""
    resource = dict(draft)
    dosage: dict[str, Any] = {
        "text": corrected["text"],
        "doseAndRate": [
            {
                "doseQuantity": {
                    "value": corrected["amount_mg"],
                    "unit": "mg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mg",
                }
            }
        ],
    }
    if corrected.get("interval_hours"):
        dosage["timing"] = {
            "repeat": {"frequency": 1, "period": corrected["interval_hours"], "periodUnit": "h"}
        }
    elif corrected.get("interval"):
        dosage["timing"] = {"code": {"text": corrected["interval"]}}
    old = (resource.get("dosageInstruction") or [{}])[0]
    if isinstance(old, Mapping) and old.get("route"):
        dosage["route"] = old["route"]
    resource["dosageInstruction"] = [dosage]
    return resource


def _short(text: str) -> str:
    """A summary under 140 characters (the spec's limit)."""
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1] + "…"
