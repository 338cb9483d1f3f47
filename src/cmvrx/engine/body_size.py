"""Is this body size possible? Weight checked against age and height.

The plain ranges (``[[plausible]]``) bound each number alone; a 42-year-old 175 cm tall
weighing 12 kg passes them all. Here weight is judged together with height (BMI, from
the age where BMI is meaningful) and with age (an adult minimum; a ceiling for the very
young). Every limit is a NOT CONFIRMED, configurable, bounded parameter
(``plausible_*`` in parameters.toml): no source gives "impossible" body sizes, so they
sit far outside recorded human extremes and are shown for specialist review.
"""

from __future__ import annotations

from cmvrx.errors import ImplausibleValueError
from cmvrx.knowledge.bundle import Knowledge

#: The two limits every size check reads (``Knowledge.numbers_of`` key).
_AGES = ("numbers", "plausible_bmi_min_age", "pediatric_age_limit")
#: Every limit of the check, read with one lookup (hot path: every plan).
_LIMITS = (
    "numbers",
    "plausible_bmi_min_age",
    "pediatric_age_limit",
    "plausible_adult_min_weight",
    "plausible_young_child_max_weight",
    "plausible_bmi_min",
    "plausible_bmi_max",
)


def check_body_size(
    k: Knowledge, *, age_years: float, weight_kg: float, height_cm: float | None
) -> None:
    """Raise ``ImplausibleValueError`` (field ``patient.weight``) for an impossible size."""
    bmi_age, adult_age, minimum, ceiling, low, high = k.numbers_of(_LIMITS)
    if age_years >= adult_age:
        if weight_kg < minimum:
            raise ImplausibleValueError(
                f"{weight_kg:g} kg is below the plausible adult minimum of {minimum:g} kg"
                " (plausible_adult_min_weight, NOT CONFIRMED)",
                field="patient.weight",
            )
    elif age_years < bmi_age and weight_kg > ceiling:
        raise ImplausibleValueError(
            f"{weight_kg:g} kg is above the plausible maximum of {ceiling:g} kg below"
            f" age {bmi_age:g} years (plausible_young_child_max_weight, NOT CONFIRMED)",
            field="patient.weight",
        )
    if height_cm is None or age_years < bmi_age:
        return
    bmi = weight_kg / (height_cm / 100) ** 2
    if not low <= bmi <= high:
        raise ImplausibleValueError(
            f"{weight_kg:g} kg at {height_cm:g} cm is a BMI of {bmi:.1f} kg/m², outside the"
            f" plausible {low:g}–{high:g} kg/m² (plausible_bmi_min/max, NOT CONFIRMED):"
            " check weight and height",
            field="patient.weight",
        )


def body_size_parameters(
    k: Knowledge, age_years: float, height_cm: float | None
) -> tuple[str, ...]:
    """The NOT CONFIRMED limits ``check_body_size`` applied to this patient (for the plan's
    list of NOT CONFIRMED values used)."""
    bmi_age, adult_age = k.numbers_of(_AGES)
    names: list[str] = ["plausible_bmi_min_age"]
    if age_years >= adult_age:
        names.append("plausible_adult_min_weight")
    elif age_years < bmi_age:
        names.append("plausible_young_child_max_weight")
    if height_cm is not None and age_years >= bmi_age:
        names.extend(("plausible_bmi_min", "plausible_bmi_max"))
    return tuple(names)
