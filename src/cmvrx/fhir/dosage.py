"""A MedicationRequest's ``dosageInstruction`` as an order document for ``api.parse_order``:
``{id, drug, route, amount_mg | amount_mg_per_kg, interval_hours | schedule,
[infusion_minutes]}``.

Accepts the three dose shapes seen in the wild: ``doseAndRate`` as an array (R4), as a
single object (the published CDS Hooks R4 example), and a bare ``doseQuantity`` (STU3).
q12h may be ``frequency 1 / period 12 h`` or ``frequency 2 / period 1 d`` (both give
``interval_hours`` 12). ``timing.code`` (e.g. BID) is passed on as ``schedule``. An
order missing a needed part is reported (``order_incomplete``), never completed by guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmvrx import units
from cmvrx.errors import UnitError
from cmvrx.fhir.problems import Problem
from cmvrx.fhir.values import code_of, codings, mapping, number, quantity_unit, texts
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.terminology import SYSTEM_URI

DOSE_KEYS = {"mg": "amount_mg", "mg/kg": "amount_mg_per_kg"}


def first_dosage(resource: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The first Dosage of ``key`` (``dosageInstruction`` list, or ``dosage`` object)."""
    value = resource.get(key)
    if isinstance(value, list):
        return mapping(value[0]) if value else {}
    return mapping(value)


def dose_quantity(dosage: Mapping[str, Any]) -> Mapping[str, Any]:
    """``doseQuantity`` from ``doseAndRate`` (array or object) or the bare legacy field."""
    dar = dosage.get("doseAndRate")
    if isinstance(dar, list):
        dar = dar[0] if dar else None
    for holder in (mapping(dar), dosage):
        q = holder.get("doseQuantity") or holder.get("dose")  # MedicationAdministration: dose
        if isinstance(q, Mapping):
            return q
    return {}


class OrderReader:
    """Turns dosages into order documents, reporting what is missing."""

    def __init__(self, knowledge: Knowledge) -> None:
        t = knowledge.terminology
        assert t is not None
        self.knowledge = knowledge
        self.routes = t.route

    def order(
        self, resource: Mapping[str, Any], drug: str, ref: str, where: str, problems: list[Problem]
    ) -> tuple[dict[str, Any] | None, str]:
        """The order document and how its route was found (``None`` if incomplete)."""
        missing: list[str] = []

        def fail(field: str, message: str) -> None:
            missing.append(field)
            problems.append(Problem("order_incomplete", ref, field, message, where))

        rid = resource.get("id")
        if not isinstance(rid, str) or not rid:
            fail("id", "no resource id: a corrected order could not update it")
        dosage = first_dosage(resource, "dosageInstruction")
        several = resource.get("dosageInstruction")
        if isinstance(several, list) and len(several) > 1:
            fail(
                "dosageInstruction",
                "several dosage instructions (a sequence): not read as one order",
            )
        dar = dosage.get("doseAndRate")
        if isinstance(dar, list) and len(dar) > 1:
            fail(
                "dosageInstruction.doseAndRate",
                "several doses in one instruction: not read as one order",
            )
        doc: dict[str, Any] = {"id": rid, "drug": drug}
        self._dose(dosage, doc, fail)
        self._timing(dosage, doc, fail)
        route, how = self.route(dosage, drug)
        if route is None:
            fail(
                "dosageInstruction.route",
                "route not given (SNOMED 47625008 IV or oral) and the drug has more than one",
            )
        else:
            doc["route"] = route
        return (None, how) if missing else (doc, how)

    def dose_mg(self, dosage: Mapping[str, Any]) -> tuple[float | None, str | None]:
        """``(value, unit)`` of the dose, the unit as sent."""
        q = dose_quantity(dosage)
        return number(q.get("value")), quantity_unit(q) if q else None

    def _dose(self, dosage: Mapping[str, Any], doc: dict[str, Any], fail: Any) -> None:
        value, unit = self.dose_mg(dosage)
        if value is None or value <= 0:
            fail(
                "dosageInstruction.doseAndRate.doseQuantity",
                "no positive structured dose (text is not read)",
            )
            return
        key = DOSE_KEYS.get(unit or "")
        if key is None:
            fail(
                "dosageInstruction.doseAndRate.doseQuantity.unit",
                f"dose unit {unit!r}: only mg and mg/kg are read; not converted",
            )
            return
        doc[key] = value

    def _timing(self, dosage: Mapping[str, Any], doc: dict[str, Any], fail: Any) -> None:
        timing = mapping(dosage.get("timing"))
        repeat = mapping(timing.get("repeat"))
        if repeat.get("frequencyMax") is not None or repeat.get("periodMax") is not None:
            fail(
                "dosageInstruction.timing.repeat", "a frequency or period range is not one interval"
            )
            return
        period, unit = number(repeat.get("period")), repeat.get("periodUnit")
        # R4 Timing.repeat.frequency: "If no frequency is stated, the assumption is that
        # the event occurs once per period" (meaningWhenMissing).
        frequency = number(repeat.get("frequency", 1))
        if period is not None and period > 0 and frequency is not None and frequency >= 1:
            try:
                hours = units.to_internal(period, str(unit), "duration", field="periodUnit")
            except UnitError:
                fail(
                    "dosageInstruction.timing.repeat.periodUnit",
                    f"period unit {unit!r} is not min, h, d or wk",
                )
                return
            doc["interval_hours"] = hours / frequency
            self._infusion(repeat, doc, fail)
            return
        code = code_of(timing.get("code")) or next(iter(texts(timing.get("code"))), None)
        if code:
            doc["schedule"] = code
            self._infusion(repeat, doc, fail)
            return
        fail("dosageInstruction.timing", "no frequency/period and no timing code")

    def _infusion(self, repeat: Mapping[str, Any], doc: dict[str, Any], fail: Any) -> None:
        duration = number(repeat.get("duration"))
        if duration is None:
            return
        try:
            hours = units.to_internal(
                duration, str(repeat.get("durationUnit")), "duration", field="durationUnit"
            )
        except UnitError:
            fail(
                "dosageInstruction.timing.repeat.durationUnit",
                "infusion duration unit is not min, h, d or wk",
            )
            return
        doc["infusion_minutes"] = hours * 60

    def route(self, dosage: Mapping[str, Any], drug: str) -> tuple[str | None, str]:
        """``iv``/``oral`` from the SNOMED code (an UNCONFIRMED code needs the text to
        agree), the route text, or the only route the knowledge gives the drug."""
        concept = dosage.get("route")
        words = " ".join(texts(concept)).lower().replace("-", " ")
        by_text = {
            r.id
            for r in self.routes
            if any(w in words.split() or (" " in w and w in words) for w in r.words)
        }
        for system, code, _ in codings(concept):
            for r in self.routes:
                agreed = r.confidence != "UNCONFIRMED" or r.id in by_text
                if system == SYSTEM_URI["snomed"] and code == r.code and agreed:
                    return r.id, f"snomed:{code} ({r.confidence})"
        if len(by_text) == 1:
            return next(iter(by_text)), "route text"
        label = self.knowledge.drugs.get(drug)
        if label is not None and label.administration.route in ("IV", "oral"):
            return label.administration.route.lower(), f"the only route of {drug} in the knowledge"
        return None, ""
