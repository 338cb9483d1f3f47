"""Read one Observation by its LOINC code: status, time, unit (checked against the code's
binding), conversion (units.py only) and plausibility (the knowledge's bounds).

Every unusable value becomes a ``Problem`` naming the resource and field; nothing is
converted that the binding does not allow, and nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from cmvrx import units
from cmvrx.errors import UnitError
from cmvrx.fhir.problems import Match, Problem
from cmvrx.fhir.resources import Item
from cmvrx.fhir.values import codings, instant, mapping, number, quantity_unit, texts
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.terminology import SYSTEM_URI, ObservationBinding, TerminologyFile

FINAL = frozenset({"final", "amended", "corrected"})
PLAUSIBLE_FIELD = {
    "creatinine": "renal.serum_creatinine",
    "measured_creatinine_clearance": "renal.measured_creatinine_clearance",
    "weight": "patient.weight",
    "height": "patient.height",
    "anc": "blood_counts.anc",
    "platelets": "blood_counts.platelets",
    "hemoglobin": "blood_counts.hemoglobin",
    "cd4": "hiv.cd4",
}
POSITIVE = frozenset({"creatinine", "weight", "height", "hemoglobin"})  # zero is not a value
_DIPSTICK = {
    "negative": "negative",
    "neg": "negative",
    "trace": "trace",
    "1+": "1+",
    "2+": "2+",
    "3+": "3+",
    "4+": "4+",
}
_NOT_DETECTED = ("not detected", "undetected", "negative", "none detected", "target not detected")


@dataclass(frozen=True, slots=True)
class Reading:
    """A usable observation value: as sent (value, unit) and in cmvrx's internal unit."""

    analyte: str
    at: datetime
    ref: str
    where: str
    code: str
    value: float | None = None
    unit: str | None = None
    internal: float | None = None
    dipstick: str | None = None
    specimen: str | None = None
    pcr_result: str | None = None
    lower_limit: float | None = None  # CMV PCR: the assay's limit, IU/mL
    suppressed: bool | None = None  # HIV RNA: below the assay's limit (not detected)


@dataclass
class ObservationReader:
    """Reads Observations against the bound LOINC codes of one knowledge."""

    knowledge: Knowledge
    terminology: TerminologyFile

    def __post_init__(self) -> None:
        self.by_code = {o.code: o for o in self.terminology.observation}
        self.all_units = {u for o in self.terminology.observation for u in o.units}
        # per binding, computed once: its match route and its unit set
        self._route = {c: f"loinc:{b.code} ({b.confidence})" for c, b in self.by_code.items()}
        self._units = {c: frozenset(b.units) for c, b in self.by_code.items()}
        self._loinc = SYSTEM_URI["loinc"]

    def binding(self, resource: Mapping[str, Any]) -> ObservationBinding | None:
        concept = resource.get("code")
        if type(concept) is not dict:
            return self._binding_general(concept)
        for coding in concept.get("coding") or ():  # the usual shape, looked up directly
            if type(coding) is not dict:
                return self._binding_general(concept)
            code = coding.get("code")
            if coding.get("system") == self._loinc and type(code) is str:
                found = self.by_code.get(code.strip())
                if found is not None:
                    return found
        return None

    def _binding_general(self, concept: object) -> ObservationBinding | None:
        for system, code, _ in codings(concept):
            if system == SYSTEM_URI["loinc"] and code in self.by_code:
                return self.by_code[code]
        return None

    def read(
        self,
        item: Item,
        as_of: datetime,
        problems: list[Problem],
        matched: list[Match],
        known: tuple[ObservationBinding, datetime | None] | None = None,
    ) -> Reading | None:
        """The reading of a bound Observation, or ``None`` with the problem reported.
        ``known``: its binding and ``observation_time``, when the caller read them already."""
        r = item.resource
        b = self.binding(r) if known is None else known[0]
        if b is None:
            return None

        def fail(kind: Any, field: str, message: str) -> None:
            problems.append(Problem(kind, item.ref, field, message, item.where))

        matched.append(Match(item.ref, b.analyte, self._route[b.code]))
        status = r.get("status")
        if status == "entered-in-error":
            fail("entered_in_error", "status", "entered in error: never used")
            return None
        if status not in FINAL:
            fail(
                "status_not_final",
                "status",
                f"status {status!r}: only final, amended or corrected results count",
            )
            return None
        if not b.used:
            fail(
                "not_used",
                "code",
                f"LOINC {b.code} ({b.analyte}) is recognised but not used: {b.note or ''}".strip(),
            )
            return None
        at = _effective(r) if known is None else known[1]
        if at is None:
            fail(
                "missing_time",
                "effectiveDateTime",
                "no date-time with a time zone: when was it taken?",
            )
            return None
        if at > as_of:
            fail("future", "effectiveDateTime", f"{at.isoformat()} is after as_of")
            return None
        base = _Base(b.analyte, at, item.ref, item.where, b.code, b.specimen)
        if b.quantity == "ordinal":
            return self._ordinal(r, base, fail)
        if b.analyte == "cmv_dna":
            return self._pcr(r, b, base, fail)
        if b.analyte == "hiv_rna":
            return self._hiv_rna(r, b, base, fail)
        return self._quantity(r, b, base, fail)

    def _hiv_rna(
        self, r: Mapping[str, Any], b: ObservationBinding, base: _Base, fail: Any
    ) -> Reading | None:
        """HIV RNA, with whether it is below the assay's limit ("suppressed": what the HIV
        maintenance-stop rule reads). A suppressed load is usually reported censored
        ("<20 copies/mL") or as "not detected": both are results, not missing values; the
        value kept is then the assay's limit. A quantified load is suppressed only when
        the report says it is below the limit (``referenceRange.low``, an ND/NEG
        interpretation); otherwise it is not."""
        q = mapping(r.get("valueQuantity"))
        words = " ".join(
            [*texts(r.get("valueCodeableConcept")), str(r.get("valueString", ""))]
        ).lower()
        if not q:
            if any(w in words for w in _NOT_DETECTED):
                return _replace(base, suppressed=True)
            fail("missing_value", "value[x]", "no quantity and no 'not detected' result")
            return None
        comparator = q.get("comparator")
        if comparator and comparator not in ("<", "<="):
            fail(
                "missing_value",
                "valueQuantity.comparator",
                f"comparator {comparator!r} is not a measurement",
            )
            return None
        reading = self._quantity(r, b, base, fail, censored_ok=True)
        if reading is None:
            return None
        limit = self._limit(r, b)
        below = bool(comparator) or _interpreted_not_detected(r)
        if not below and limit is not None and reading.internal is not None:
            below = reading.internal < limit
        return _replace(
            base,
            value=reading.value,
            unit=reading.unit,
            internal=reading.internal,
            suppressed=below,
        )

    def _quantity(
        self,
        r: Mapping[str, Any],
        b: ObservationBinding,
        base: _Base,
        fail: Any,
        *,
        censored_ok: bool = False,
    ) -> Reading | None:
        q = mapping(r.get("valueQuantity"))
        value, unit = number(q.get("value")), quantity_unit(q)
        if value is None:
            fail("missing_value", "valueQuantity.value", "no numeric value")
            return None
        if q.get("comparator") and not censored_ok:
            fail(
                "missing_value",
                "valueQuantity.comparator",
                f"censored value {q['comparator']}{value:g} is not a measurement",
            )
            return None
        internal = self._convert(b, value, unit, fail)
        if internal is None or not self._plausible(b, internal, fail):
            return None
        return _replace(base, value=value, unit=unit, internal=internal)

    def _convert(
        self, b: ObservationBinding, value: float, unit: str | None, fail: Any
    ) -> float | None:
        if unit is None:
            fail("missing_value", "valueQuantity.unit", "no unit")
            return None
        if unit not in self._units.get(b.code, b.units):
            kind = (
                "unit_mismatch"
                if unit in self.all_units or _is_known_unit(unit)
                else "unknown_unit"
            )
            fail(
                kind,
                "valueQuantity.unit",
                f"unit {unit!r} does not fit LOINC {b.code} ({b.display}); expected {', '.join(b.units)}; not converted",
            )
            return None
        try:
            return units.observation_value(value, unit, b.quantity, field=b.analyte)
        except (UnitError, OverflowError) as exc:
            fail(
                "implausible", "valueQuantity.value", f"{value:g} {unit} cannot be converted: {exc}"
            )
            return None

    def _plausible(self, b: ObservationBinding, internal: float, fail: Any) -> bool:
        if internal < 0 or (internal == 0 and b.analyte in POSITIVE):
            fail(
                "implausible", "valueQuantity.value", f"{internal:g} is not a possible {b.analyte}"
            )
            return False
        bounds = self.knowledge.plausible.get(PLAUSIBLE_FIELD.get(b.analyte, ""))
        if bounds is not None and not bounds.min <= internal <= bounds.max:
            fail(
                "implausible",
                "valueQuantity.value",
                f"{internal:g} {bounds.unit} is outside the plausible range {bounds.min:g}–{bounds.max:g} {bounds.unit}",
            )
            return False
        return True

    def _ordinal(self, r: Mapping[str, Any], base: _Base, fail: Any) -> Reading | None:
        words = [r["valueString"]] if isinstance(r.get("valueString"), str) else []
        words += texts(r.get("valueCodeableConcept"))
        for word in words:
            grade = _DIPSTICK.get(word.strip().lower())
            if grade is not None:
                return _replace(base, dipstick=grade)
        fail(
            "missing_value",
            "valueCodeableConcept",
            f"no dipstick grade (negative, trace, 1+ … 4+) in {words!r}",
        )
        return None

    def _pcr(
        self, r: Mapping[str, Any], b: ObservationBinding, base: _Base, fail: Any
    ) -> Reading | None:
        limit = self._limit(r, b)
        words = " ".join(
            [*texts(r.get("valueCodeableConcept")), str(r.get("valueString", ""))]
        ).lower()
        q = mapping(r.get("valueQuantity"))
        if not q and any(w in words for w in _NOT_DETECTED):
            result, internal, value, unit = "not_detected", None, None, None
        elif q:
            value, unit = number(q.get("value")), quantity_unit(q)
            if value is None:
                fail("missing_value", "valueQuantity.value", "no numeric value")
                return None
            converted = self._convert(b, value, unit, fail)
            if converted is None or not self._plausible(b, converted, fail):
                return None
            if q.get("comparator") in ("<", "<="):
                result, internal, limit = "detected_below_lloq", None, limit or converted
                if _interpreted_not_detected(r):
                    result = "not_detected"
            elif q.get("comparator"):
                fail(
                    "missing_value",
                    "valueQuantity.comparator",
                    f"comparator {q['comparator']!r} is not a measurement",
                )
                return None
            else:
                result, internal = "detected", converted
        else:
            fail("missing_value", "value[x]", "no quantity and no 'not detected' result")
            return None
        if limit is None or limit <= 0:
            fail(
                "missing_value",
                "referenceRange",
                "the assay's lower limit is not given (referenceRange or '<' value): the PCR cannot be placed in the course",
            )
            return None
        return _replace(
            base, value=value, unit=unit, internal=internal, pcr_result=result, lower_limit=limit
        )

    def _limit(self, r: Mapping[str, Any], b: ObservationBinding) -> float | None:
        """The assay's lower limit: ``referenceRange.low``, else a number followed by one of
        the code's units in ``referenceRange.text`` or a ``note`` (the comments)."""
        texts_found: list[str] = []
        for rng in _list(r.get("referenceRange")):
            rng = mapping(rng)
            low = mapping(rng.get("low"))
            value, unit = number(low.get("value")), quantity_unit(low)
            if value is not None and unit in b.units:
                return self._as_internal(value, unit, b)
            if isinstance(rng.get("text"), str):
                texts_found.append(rng["text"])
        texts_found += [
            n["text"] for n in map(mapping, _list(r.get("note"))) if isinstance(n.get("text"), str)
        ]
        for text in texts_found:
            for unit in sorted(b.units, key=len, reverse=True):
                found = re.search(rf"(\d+(?:\.\d+)?)\s*{re.escape(unit)}", text)
                if found:
                    return self._as_internal(float(found.group(1)), unit, b)
        return None

    @staticmethod
    def _as_internal(value: float, unit: str, b: ObservationBinding) -> float | None:
        try:
            return units.observation_value(value, unit, b.quantity, field="referenceRange")
        except (UnitError, OverflowError):
            return None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _interpreted_not_detected(r: Mapping[str, Any]) -> bool:
    for concept in r.get("interpretation") or ():
        for _, code, display in codings(concept):
            if code in ("ND", "NEG") or "not detected" in display.lower():
                return True
    return False


def observation_time(r: Mapping[str, Any]) -> datetime | None:
    """When an Observation was taken (``effective[x]``, with a zone), as ``read`` takes it."""
    return _effective(r)


def _effective(r: Mapping[str, Any]) -> datetime | None:
    for key in ("effectiveDateTime", "effectiveInstant"):
        if key in r:
            return instant(r[key])
    period = mapping(r.get("effectivePeriod"))
    return instant(period.get("start")) if period else None


def _is_known_unit(unit: str) -> bool:
    kinds = units.INTERNAL_UNIT
    return any(unit in units.accepted_units(k) for k in kinds) or "1.73" in unit


class _Base(NamedTuple):
    """What every reading of one observation has before its value is read."""

    analyte: str
    at: datetime
    ref: str
    where: str
    code: str
    specimen: str | None


def _replace(base: _Base, **changes: Any) -> Reading:
    """The ``Reading`` of ``base`` with the value fields ``changes`` (built once)."""
    return Reading(
        base.analyte, base.at, base.ref, base.where, base.code, specimen=base.specimen, **changes
    )
