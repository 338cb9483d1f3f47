"""The finding ``kind`` vocabulary of the audit and which engine rule ids map to which kind.

Data, not logic: the engines (order check, course assessment) decide; this table only
names what they said in the audit's stable vocabulary (docs/audit.md). ``None`` means
the rule is not an audit finding (a reminder, or said better by another rule: the order
check is the one judgement of an active order, so the course's own order rules are not
repeated). A rule id not in the table falls back on the order's verdict
(``not_recommended``, ``insufficient_data``) or on ``other``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: The stable vocabulary (snake_case). Never rename; add at the end.
KINDS: Final[tuple[str, ...]] = (
    "dose_too_high",
    "dose_too_low",
    "wrong_interval",
    "not_recommended",
    "cytopenia_hold",
    "test_overdue",
    "refractory_no_genotype",
    "premature_stop",
    "maintenance_stop_eligible",
    "insufficient_data",
    # beyond the list: what else the engines say
    "infusion_too_fast",
    "weight_mismatch",
    "regimen_mismatch",
    "combination_incomplete",
    "interaction",
    "cytopenia_watch",
    "electrolytes_low",
    "nephrotoxicity",
    "maintenance_restart",
    "dose_given_differs",
    "dose_given_not_ordered",
    "other",
)

#: Kinds tied to an order (``order_id`` set); the others are about the patient's course.
ORDER_KINDS: Final = frozenset(
    {
        "dose_too_high",
        "dose_too_low",
        "wrong_interval",
        "not_recommended",
        "cytopenia_hold",
        "insufficient_data",
        "infusion_too_fast",
        "weight_mismatch",
        "regimen_mismatch",
        "combination_incomplete",
        "interaction",
    }
)  # a course finding of these kinds is tied to the active order of its drug, if any

#: Kinds reported even when the engine's severity is ``info``.
INFO_KINDS: Final = frozenset({"maintenance_stop_eligible"})

#: Direction-dependent: the kind follows the ordered vs the corrected daily amount.
BY_DIRECTION: Final = "by_direction"

#: engine rule id → kind (None: not a finding).
RULE_KINDS: Final[Mapping[str, str | None]] = {
    # order check (orders.toml)
    "ORD-OK": None,
    "ORD-PHASE-ASSUMED": None,
    "ORD-DOSE-HIGH": "dose_too_high",
    "ORD-DOSE-LOW": "dose_too_low",
    "ORD-MAX-DAILY": "dose_too_high",
    "ORD-UNIT-CONFUSION": BY_DIRECTION,
    "ORD-DAILY-AS-SINGLE": BY_DIRECTION,
    "ORD-INTERVAL": "wrong_interval",
    "ORD-INFUSION-RATE": "infusion_too_fast",
    "ORD-WEIGHT": "weight_mismatch",
    "ORD-ROUTE": "not_recommended",
    "ORD-RESISTANCE": "not_recommended",
    "ORD-REGIMEN-FIT": "regimen_mismatch",
    "ORD-DUPLICATE": "not_recommended",
    "ORD-FORBIDDEN-COMBINATION": "not_recommended",
    "ORD-COMBO-GCV-VGC": "not_recommended",
    "ORD-COMBO-MBV-GCV": "not_recommended",
    "ORD-COMBO-MBV-VGC": "not_recommended",
    "ORD-CNS-PARTNER": "combination_incomplete",
    "ORD-INTERACTION-CURRENT": "interaction",
    "ORD-UNUSABLE-GANCICLOVIR": "not_recommended",
    "ORD-UNUSABLE-FOSCARNET": "not_recommended",
    "ORD-UNUSABLE-CIDOFOVIR": "not_recommended",
    # refusals (regimens.toml)
    "REF-LETERMOVIR-TREATMENT": "not_recommended",
    "REF-CIDOFOVIR-CNS": "not_recommended",
    "REF-MARIBAVIR-CNS": "not_recommended",
    "REF-MARIBAVIR-NOT-REFRACTORY": "not_recommended",
    "REF-VALGANCICLOVIR-HEMODIALYSIS": "not_recommended",
    "REF-VALGANCICLOVIR-CNS": "not_recommended",
    "REF-VALGANCICLOVIR-NO-ORAL": "not_recommended",
    # course assessment (course.toml)
    "CRS-DATA-EVENT-INVALID": "insufficient_data",
    "CRS-DATA-MEASUREMENT-HELD": "insufficient_data",
    "CRS-DATA-ENTERED-IN-ERROR": None,
    "CRS-DOSE-GIVEN-ABOVE-LABEL-MAXIMUM": "dose_too_high",
    "CRS-DOSE-GIVEN-DIFFERS-FROM-ORDER": "dose_given_differs",
    "CRS-DOSE-GIVEN-NOT-ORDERED": "dose_given_not_ordered",
    "CRS-NO-THERAPY": None,
    "CRS-INDUCTION-DURATION-UNKNOWN": None,
    "CRS-ORDER-REDOSE": None,  # the order check judges active orders
    "CRS-ORDER-STOP": None,
    "CRS-ORDER-NO-LABEL-DOSE": None,
    "CRS-ORDER-UNVERIFIABLE": None,
    "CRS-TEST-MISSING": "test_overdue",
    "CRS-TEST-OVERDUE": "test_overdue",
    "CRS-TEST-DUE": None,
    "CRS-CIDOFOVIR-PREDOSE-LABS": "test_overdue",
    "CRS-TOX-GANCICLOVIR-CYTOPENIA": "cytopenia_hold",
    "CRS-TOX-GANCICLOVIR-LOW-ANC": "cytopenia_watch",
    "CRS-TOX-FOSCARNET-ELECTROLYTES": "electrolytes_low",
    "CRS-TOX-CIDOFOVIR-REDUCE": "nephrotoxicity",
    "CRS-TOX-CIDOFOVIR-STOP": "nephrotoxicity",
    "CRS-TOX-CIDOFOVIR-PROTEINURIA-WATCH": "nephrotoxicity",
    "CRS-CIDOFOVIR-BASELINE-UNKNOWN": "insufficient_data",
    "CRS-STEP-DOWN-ELIGIBLE": None,
    "CRS-END-OF-INDUCTION-MET": None,
    "CRS-PREMATURE-DISCONTINUATION": "premature_stop",
    "CRS-RESPONSE-REFRACTORY": "refractory_no_genotype",
    "CRS-RESPONSE-PROBABLE-REFRACTORY": "refractory_no_genotype",
    "CRS-RESPONSE-CHECK-DOSING": None,  # the dose finding says it
    "CRS-GENOTYPE": "refractory_no_genotype",
    "CRS-RESISTANCE-KNOWN": None,
    "CRS-RESISTANCE-ACTIVE-DRUG": "not_recommended",
    "CRS-MAINTENANCE-HIV-STOP-ELIGIBLE": "maintenance_stop_eligible",
    "CRS-MAINTENANCE-STOPPED-EARLY": "premature_stop",
    "CRS-MAINTENANCE-RESTART": "maintenance_restart",
    "CRS-MAINTENANCE-LIFELONG": None,
    "CRS-MAINTENANCE-IMMUNE-FUNCTION": None,
}

#: label-table rule ids end with a reason suffix; these suffixes name a kind
RULE_SUFFIX_KINDS: Final[Mapping[str, str]] = {"#blood-counts": "cytopenia_hold"}

#: an order's verdict → the kind of a finding whose rule id the table does not list
VERDICT_KINDS: Final[Mapping[str, str]] = {
    "not_recommended": "not_recommended",
    "insufficient_data": "insufficient_data",
}


def kind_of(rule_id: str, verdict: str | None = None) -> str | None:
    """The kind of a finding of ``rule_id`` (None: not a finding)."""
    if rule_id in RULE_KINDS:
        return RULE_KINDS[rule_id]
    if verdict == "insufficient_data":  # a label rule that could not be applied
        return "insufficient_data"
    for suffix, kind in RULE_SUFFIX_KINDS.items():
        if rule_id.endswith(suffix):
            return kind
    return VERDICT_KINDS.get(verdict or "", "other")
