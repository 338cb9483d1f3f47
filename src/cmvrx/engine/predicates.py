"""The closed set of named predicates the knowledge's rules may use.

Rules in the knowledge files (regimen choice, refusals, alerts, monitoring,
maintenance) name predicates from ``PREDICATES``; there is no expression language.
Each predicate reads a ``Situation``: the patient's facts, renal function, known
resistance and, once chosen, the regimen. The loader refuses any other name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cmvrx.engine.intake import Facts
from cmvrx.frozen import fast_init
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.plan import RenalFunction


@fast_init
@dataclass(frozen=True, slots=True)
class Situation:
    """What the rules can see about one patient at one moment."""

    facts: Facts
    renal: RenalFunction
    knowledge: Knowledge
    pediatric: bool
    resistant_to: frozenset[str]
    cytopenias: tuple[str, ...]
    foscarnet_renal_refusal: bool
    cidofovir_problems: tuple[str, ...]
    regimen_drugs: frozenset[str] = frozenset()
    step_down_offered: bool = False
    regimen_chosen: bool = True
    uses_not_confirmed: bool = False

    sites: frozenset[str] = field(init=False)
    cns: bool = field(init=False)  # CNS disease: a dozen rules of every plan ask
    # values derived from this situation alone (renal lookups by measure), kept because
    # each of a plan's doses asks for them again
    derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # a plan builds three situations: the sites are computed once, in the facts
        sites = self.facts.sites
        _SET_SITES(self, sites)  # the slots' own setters: object.__setattr__ costs more
        _SET_CNS(self, not sites.isdisjoint(self.knowledge.vocabulary_sets["cns_sites"]))


_SET_SITES = Situation.__dict__["sites"].__set__
_SET_CNS = Situation.__dict__["cns"].__set__


def _cns(s: Situation) -> bool:
    return s.cns


def ganciclovir_unusable(s: Situation) -> bool:
    return (
        s.facts.case.intolerance.ganciclovir
        or "ganciclovir" in s.resistant_to
        or bool(s.cytopenias)
    )


def foscarnet_unusable(s: Situation) -> bool:
    return (
        s.facts.case.intolerance.foscarnet
        or "foscarnet" in s.resistant_to
        or s.foscarnet_renal_refusal
    )


def _blood_counts_unknown(s: Situation) -> bool:
    f = s.facts
    for r in (f.anc, f.platelets, f.hemoglobin):  # noqa: SIM110 - a plain loop (hot path)
        if r is None or not r.fresh:
            return True
    return False


def _electrolytes_missing(s: Situation) -> bool:
    """``bool(missing_electrolytes(s))`` without building the names."""
    f = s.facts
    return (
        f.potassium is None
        or f.magnesium is None
        or f.ionized_calcium is None
        or (f.phosphate is None)
    )


def _anc_below_frequent(s: Situation) -> bool:
    anc = s.facts.anc
    return anc is not None and anc.fresh and anc.value < s.knowledge.number("frequent_cbc_anc")


def _oral(s: Situation) -> bool | None:
    oral = s.facts.case.oral
    return None if oral is None else (oral.can_take_oral and oral.can_absorb_oral)


def _may_become_pregnant(s: Situation) -> bool:
    f, k = s.facts, s.knowledge
    return f.sex == "female" and k.number("pregnancy_relevant_min_age") <= f.age_years <= k.number(
        "pregnancy_relevant_max_age"
    )


def _foscarnet_maintenance_option(s: Situation) -> bool:
    """Foscarnet is among the maintenance options offered (maintenance.toml)."""
    found: bool | None = s.derived.get("foscarnet_maintenance_option")
    if found is None:
        found = any(
            o.drug == "foscarnet" and holds(s, (), o.unless) for o in s.knowledge.maintenance.option
        )
        s.derived["foscarnet_maintenance_option"] = found
    return found


def _hiv(s: Situation) -> bool:
    hiv = s.facts.case.hiv
    return hiv is not None and hiv.status == "positive"


def _transplant(s: Situation) -> bool:
    return s.facts.case.transplant is not None


def maribavir_label_population(s: Situation) -> bool:
    """Maribavir's labelled population by size: ≥ 12 years and ≥ 35 kg (S-MBV-LABEL)."""
    f, k = s.facts, s.knowledge
    return f.age_years >= k.number("maribavir_min_age") and f.weight_kg >= k.number(
        "maribavir_min_weight"
    )


def _refractory_post_transplant(s: Situation) -> bool:
    return (
        bool(s.facts.case.disease.refractory)
        and _transplant(s)
        and maribavir_label_population(s)
        and "maribavir" not in s.resistant_to
    )


def low_electrolytes(s: Situation) -> tuple[str, ...]:
    f, k = s.facts, s.knowledge
    checks = (
        ("potassium", f.potassium, "foscarnet_low_potassium"),
        ("magnesium", f.magnesium, "foscarnet_low_magnesium"),
        ("ionized calcium", f.ionized_calcium, "foscarnet_low_ionized_calcium"),
        ("phosphate", f.phosphate, "foscarnet_low_phosphate"),
    )
    return tuple(name for name, r, p in checks if r is not None and r.value < k.number(p))


_LOW_LIMITS = (
    "numbers",
    "foscarnet_low_potassium",
    "foscarnet_low_magnesium",
    "foscarnet_low_ionized_calcium",
    "foscarnet_low_phosphate",
)


def _electrolyte_low(s: Situation) -> bool:
    """``bool(low_electrolytes(s))``, stopping at the first low value (the four limits
    read with one lookup)."""
    f = s.facts
    k_low, mg_low, ca_low, p_low = s.knowledge.numbers_of(_LOW_LIMITS)
    return (
        (f.potassium is not None and f.potassium.value < k_low)
        or (f.magnesium is not None and f.magnesium.value < mg_low)
        or (f.ionized_calcium is not None and f.ionized_calcium.value < ca_low)
        or (f.phosphate is not None and f.phosphate.value < p_low)
    )


def missing_electrolytes(s: Situation) -> tuple[str, ...]:
    f = s.facts
    pairs = (
        ("potassium", f.potassium),
        ("magnesium", f.magnesium),
        ("ionized calcium", f.ionized_calcium),
        ("phosphate", f.phosphate),
    )
    return tuple(name for name, r in pairs if r is None)


def _full_dose_crcl(k: Knowledge) -> float:
    """The label's full-dose edge: the highest lower bound of a recommended ganciclovir
    induction band."""
    return max(b.lower for b in k.schedules["ganciclovir.induction"].band if b.recommended)


def _renal_impairment(s: Situation) -> bool:
    crcl = s.renal.creatinine_clearance_ml_min
    threshold = s.knowledge.derived(("full_dose_crcl",), _full_dose_crcl)
    return s.renal.dialysis != "none" or (crcl is not None and crcl < threshold)


def _congenital_unknown_infant(s: Situation) -> bool:
    """An infant whose case does not say whether the CMV disease is congenital."""
    if not s.pediatric:  # adults first: several rules ask this on every plan
        return False
    f = s.facts
    limit = s.knowledge.number("congenital_question_max_age")
    return f.case.disease.congenital is None and f.age_years < limit


def _young_child(s: Situation) -> bool:
    """A child young enough for CD4 %-based (not count-based) HIV thresholds."""
    return s.pediatric and s.facts.age_years < s.knowledge.number("cd4_percent_age_limit")


Predicate = Callable[[Situation], bool]

PREDICATES: Mapping[str, Predicate] = {
    "any_disease": lambda _s: True,
    "cns_disease": _cns,
    "non_cns_disease": lambda s: not s.cns,
    "retinitis": lambda s: "retinitis" in s.sites,
    "not_retinitis": lambda s: "retinitis" not in s.sites,
    "sight_threatening_retinitis": lambda s: (
        "retinitis" in s.sites and bool(s.facts.case.disease.retinitis_sight_threatening)
    ),
    "gi_disease": lambda s: bool(s.sites & s.knowledge.vocabulary_sets["gi_sites"]),
    "pediatric": lambda s: s.pediatric,
    "congenital_cmv": lambda s: s.facts.case.disease.congenital is True,
    "congenital_status_unknown_infant": _congenital_unknown_infant,
    "young_child": _young_child,
    "adult": lambda s: not s.pediatric,
    "pregnant": lambda s: s.facts.case.patient.pregnant is True,
    "pregnancy_status_unknown": lambda s: (
        _may_become_pregnant(s) and s.facts.case.patient.pregnant is None
    ),
    "may_become_pregnant": lambda s: _may_become_pregnant(s),
    "not_known_pregnant": lambda s: s.facts.case.patient.pregnant is not True,
    "hiv_positive": _hiv,
    "hiv_not_on_art": lambda s: (
        _hiv(s) and s.facts.case.hiv is not None and s.facts.case.hiv.on_art is False
    ),
    "transplant": _transplant,
    "hiv_positive_not_transplant": lambda s: _hiv(s) and not _transplant(s),
    "immunosuppressed": lambda s: (
        _transplant(s)
        or bool(s.facts.medications & s.knowledge.vocabulary_sets["immunosuppressants"])
    ),
    "on_calcineurin_or_mtor_inhibitor": lambda s: bool(
        s.facts.medications & s.knowledge.vocabulary_sets["calcineurin_or_mtor"]
    ),
    "on_hemodialysis": lambda s: s.renal.dialysis == "intermittent_hemodialysis",
    "no_label_renal_dose": lambda s: s.renal.dialysis in ("crrt", "peritoneal"),
    "renal_impairment": _renal_impairment,
    "obese": lambda s: s.renal.obese,
    "letermovir_exposure": lambda s: "letermovir" in s.facts.medications,
    "ganciclovir_unusable": ganciclovir_unusable,
    "foscarnet_unusable": foscarnet_unusable,
    "cidofovir_eligible": lambda s: not s.cidofovir_problems,
    "cidofovir_ineligible": lambda s: bool(s.cidofovir_problems),
    "cytopenia_blocks_ganciclovir": lambda s: bool(s.cytopenias),
    "blood_counts_unknown": _blood_counts_unknown,
    "anc_below_frequent_cbc_threshold": _anc_below_frequent,
    "can_absorb_oral": lambda s: _oral(s) is True,
    "cannot_absorb_oral": lambda s: _oral(s) is False,
    "oral_status_unknown": lambda s: _oral(s) is None,
    "refractory": lambda s: bool(s.facts.case.disease.refractory),
    "not_refractory": lambda s: not s.facts.case.disease.refractory,
    "refractory_post_transplant": _refractory_post_transplant,
    "maribavir_label_population": maribavir_label_population,
    "known_resistance": lambda s: bool(s.facts.case.resistance_mutations),
    "ganciclovir_in_plan": lambda s: "ganciclovir" in s.regimen_drugs,
    "foscarnet_in_plan": lambda s: "foscarnet" in s.regimen_drugs,
    "foscarnet_not_in_plan": lambda s: "foscarnet" not in s.regimen_drugs,
    "foscarnet_maintenance_option": _foscarnet_maintenance_option,
    "cidofovir_in_plan": lambda s: "cidofovir" in s.regimen_drugs,
    "ganciclovir_class_in_plan": lambda s: (
        bool(s.regimen_drugs & s.knowledge.vocabulary_sets["ganciclovir_class"])
        or s.step_down_offered
    ),
    "step_down_regimen": lambda s: s.step_down_offered,
    "single_agent_cns_regimen": lambda s: s.cns and s.regimen_chosen and len(s.regimen_drugs) == 1,
    "no_regimen": lambda s: not s.regimen_chosen,
    "baseline_electrolytes_missing": _electrolytes_missing,
    "low_electrolyte": _electrolyte_low,
    "uses_not_confirmed": lambda s: s.uses_not_confirmed,
}


def holds(s: Situation, when: tuple[str, ...], unless: tuple[str, ...] = ()) -> bool:
    """True when every ``when`` predicate holds and no ``unless`` predicate does."""
    # Plain loops, not all()/any() over generators: a plan asks this ~60 times.
    for name in when:
        if not PREDICATES[name](s):
            return False
    for name in unless:  # noqa: SIM110 - a plain loop on purpose (hot path)
        if PREDICATES[name](s):
            return False
    return True


def rule_check(when: tuple[str, ...], unless: tuple[str, ...] = ()) -> Predicate:
    """``holds(s, when, unless)`` as one callable, for rules checked on every plan: most
    rules name a single predicate, which is then called directly."""
    if len(when) == 1 and not unless:
        return PREDICATES[when[0]]
    required = tuple(PREDICATES[n] for n in when)
    excluded = tuple(PREDICATES[n] for n in unless)
    if len(required) == 2 and not excluded:
        a, b = required
        return lambda s: a(s) and b(s)
    if len(required) == 1 and len(excluded) == 1:
        a, x = required[0], excluded[0]
        return lambda s: a(s) and not x(s)
    return lambda s: _all_none(s, required, excluded)


def _all_none(
    s: Situation, required: tuple[Predicate, ...], excluded: tuple[Predicate, ...]
) -> bool:
    """Every ``required`` predicate holds and no ``excluded`` one does (plain loops)."""
    for check in required:
        if not check(s):
            return False
    for check in excluded:  # noqa: SIM110 - a plain loop on purpose (hot path)
        if check(s):
            return False
    return True
