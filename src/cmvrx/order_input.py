"""Order documents and command-line order words → a structured ``Dosage``.

The order document (docs/order-check.md; also the ``--order FILE`` format):
``drug``, ``route`` (``iv``/``oral``), one of ``amount_mg`` / ``amount_mg_per_kg``
(optional ``weight_kg``), one of ``interval_hours`` / ``schedule``, optional ``phase``,
``infusion_minutes`` and ``id``. Bad input is an ``InputError`` naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from cmvrx.errors import InputError
from cmvrx.model.dosage import SCHEDULE_WORDS, Dosage, Interval

ORDER_KEYS = frozenset(
    {
        "id",
        "drug",
        "route",
        "amount_mg",
        "amount_mg_per_kg",
        "weight_kg",
        "interval_hours",
        "schedule",
        "phase",
        "infusion_minutes",
    }
)
PHASES = ("induction", "maintenance", "refractory_treatment", "prophylaxis")
ROUTES = {"iv": "iv", "oral": "oral", "po": "oral"}


def parse_order(doc: Mapping[str, object]) -> Dosage:
    """One order document as a ``Dosage`` (the drug is checked against the knowledge
    when the order is checked)."""
    if not isinstance(doc, Mapping):
        raise InputError("an order must be a mapping (YAML/JSON object)", field="order")
    unknown = sorted(str(key) for key in doc if key not in ORDER_KEYS)
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(ORDER_KEYS))})",
            field=unknown[0],
        )
    drug = _text(doc, "drug", required=True).lower()
    route = _text(doc, "route").lower()
    if route and route not in ROUTES:
        raise InputError(f"route {route!r}: use iv or oral", field="route")
    mg, per_kg = _number(doc, "amount_mg"), _number(doc, "amount_mg_per_kg")
    if (mg is None) == (per_kg is None):
        raise InputError("give exactly one of amount_mg or amount_mg_per_kg", field="amount_mg")
    hours, schedule = _number(doc, "interval_hours"), _text(doc, "schedule")
    if (hours is None) == (not schedule):
        raise InputError("give exactly one of interval_hours or schedule", field="interval_hours")
    interval = Interval.every(hours) if hours is not None else parse_schedule(schedule)
    phase = _text(doc, "phase").lower() or None
    if phase is not None and phase not in PHASES:
        raise InputError(f"phase {phase!r}: use one of {', '.join(PHASES)}", field="phase")
    order_id = doc.get("id")
    if order_id is not None and not isinstance(order_id, str | int):
        raise InputError("id must be a string", field="id")
    return Dosage(
        drug=drug,
        route=ROUTES.get(route, ""),
        interval=interval,
        amount_mg=mg,
        amount_mg_per_kg=per_kg,
        weight_kg=_number(doc, "weight_kg"),
        phase=phase,
        infusion_minutes=_number(doc, "infusion_minutes"),
        order_id=None if order_id is None else str(order_id),
    )


def parse_schedule(word: str, field: str = "schedule") -> Interval:
    """A schedule word ('once-weekly', '3x-weekly-after-hd', ...) or a label wording."""
    key = word.strip().lower().replace("_", "-")
    label = SCHEDULE_WORDS.get(key) or SCHEDULE_WORDS.get(key.replace(" ", "-"))
    if label is not None:
        return Interval.of_label(label)
    found = Interval.parse_label(word)
    if found is not None:
        return found
    raise InputError(
        f"schedule {word!r}: use one of {', '.join(SCHEDULE_WORDS)}, or interval_hours",
        field=field,
    )


_EVERY = re.compile(r"^q?(\d+(?:\.\d+)?)\s*h(?:ours?)?$")
_DOSE = re.compile(r"^(\d+(?:\.\d+)?)\s*(mg/kg|mg)$")


def parse_every(text: str) -> Interval:
    """``--every``: '12h', 'q12h', '24h', 'weekly', '3x-weekly-after-hd' ..."""
    m = _EVERY.match(text.strip().lower())
    if m:
        return Interval.every(_positive(float(m.group(1)), "every"))
    return parse_schedule(text, field="every")


def parse_dose(text: str) -> tuple[float | None, float | None]:
    """``--dose``: '350mg' → (350, None); '5mg/kg' → (None, 5)."""
    m = _DOSE.match(text.strip().lower().replace(" ", ""))
    if not m:
        raise InputError(f"dose {text!r}: write e.g. 350mg or 5mg/kg", field="dose")
    value = _positive(float(m.group(1)), "dose")
    return (value, None) if m.group(2) == "mg" else (None, value)


def _text(doc: Mapping[str, object], key: str, *, required: bool = False) -> str:
    value = doc.get(key)
    if value is None:
        if required:
            raise InputError(f"{key} is required", field=key)
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{key} must be a non-empty string", field=key)
    return value.strip()


def _number(doc: Mapping[str, object], key: str) -> float | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{key} must be a number", field=key)
    return _positive(float(value), key)


def _positive(value: float, field: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{field} must be a positive number", field=field)
    return value
