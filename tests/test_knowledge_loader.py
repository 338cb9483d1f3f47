"""The knowledge loader: the bundled files load, and every kind of broken file is refused.

Broken files are made by copying the bundled data directory to ``tmp_path``, editing
one file as text, and loading it with ``loader.load(data_dir=tmp_path)``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

import cmvrx
from cmvrx.engine.intake import read_facts
from cmvrx.engine.messages import PLACEHOLDERS, alert_context, placeholders, render
from cmvrx.engine.planner import situation
from cmvrx.engine.predicates import PREDICATES
from cmvrx.errors import KnowledgeError
from cmvrx.knowledge import loader
from cmvrx.knowledge.schema import Grade
from strategies import AS_OF

DATA = Path(str(loader.bundled_data()))

# Predicates kept in the closed vocabulary although no knowledge rule names them today,
# with why they stay. Every other predicate must be used by at least one rule.
DOCUMENTED_UNUSED = {
    "maribavir_label_population": "the size part of refractory_post_transplant, named on its "
    "own so that a quick dose (which knows no transplant status) can still check it",
    "transplant": "no rule names it directly; the same fact reaches rules through "
    "'immunosuppressed' and 'refractory_post_transplant'",
}


def edit(data_dir: Path, name: str, old: str, new: str) -> None:
    """Replace the first occurrence of ``old`` in ``name``.toml (which must contain it)."""
    path = data_dir / f"{name}.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}.toml: the test edit is stale"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- the bundled knowledge --------------------------------------------------------------


def test_bundled_knowledge_loads():
    k = loader.load()
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", k.version)
    assert re.fullmatch(r"[0-9a-f]{16}", k.content_hash)
    assert set(k.drugs) == set(loader.DRUG_FILES)
    assert k.overridden == ()
    for schedule_id in (
        "ganciclovir.induction",
        "ganciclovir.maintenance",
        "valganciclovir.induction",
        "valganciclovir.maintenance",
        "foscarnet.induction.60_q8h",
        "foscarnet.induction.90_q12h",
        "foscarnet.maintenance.90_per_day",
        "foscarnet.maintenance.120_per_day",
        "cidofovir.induction",
        "cidofovir.maintenance",
    ):
        assert schedule_id in k.schedules


def test_public_load_knowledge_is_the_bundled_knowledge():
    assert cmvrx.load_knowledge().content_hash == loader.load().content_hash


def test_unmodified_copy_loads_with_the_same_hash(data_copy):
    assert loader.load(data_dir=data_copy).content_hash == loader.load().content_hash


def test_any_edit_changes_the_hash(data_copy):
    edit(data_copy, "manifest", 'title = "', 'title = "edited: ')
    assert loader.load(data_dir=data_copy).content_hash != loader.load().content_hash


# --- broken files are refused -----------------------------------------------------------

GCV_FIRST_BAND = 'dose = 5.0\n  interval = "q12h"\n  cite = ["S-GCV-RXREASONER"]\n'
GCV_50_BAND = "lower = 50\n  lower_inclusive = true\n  upper = 70"

BROKEN = [
    pytest.param(
        "ganciclovir", 'id = "ganciclovir"\n', 'id = "ganciclovir"\nbogus = 1\n',
        r"ganciclovir\.toml.*bogus", id="unknown-top-level-key",
    ),
    pytest.param(
        "ganciclovir", GCV_FIRST_BAND, GCV_FIRST_BAND + "  dose_typo = 5\n",
        r"ganciclovir\.toml.*dose_typo", id="unknown-key-in-band",
    ),
    pytest.param(
        "parameters", 'unit = "a"\n', 'unit = "a"\nextra = true\n',
        r"parameters\.toml", id="unknown-key-in-parameter",
    ),
    pytest.param(
        "ganciclovir", GCV_50_BAND, "lower = 51\n  lower_inclusive = true\n  upper = 70",
        r"ganciclovir\.induction: gap", id="gap",
    ),
    pytest.param(
        "ganciclovir", GCV_50_BAND, "lower = 50\n  lower_inclusive = false\n  upper = 70",
        r"ganciclovir\.induction: bands gap at exactly 50", id="gap-at-an-exclusive-edge",
    ),
    pytest.param(
        "ganciclovir", GCV_50_BAND, "lower = 45\n  lower_inclusive = true\n  upper = 70",
        r"ganciclovir\.induction: bands overlap", id="overlap",
    ),
    pytest.param(
        "foscarnet", "lower = 1.4\n  lower_inclusive = false",
        "lower = 1.4\n  lower_inclusive = true",
        r"foscarnet\.induction\.60_q8h: bands overlap at exactly 1\.4",
        id="overlap-at-an-inclusive-edge",
    ),
    pytest.param(
        "ganciclovir", "lower = 70\n  lower_inclusive = true\n  upper = inf",
        "lower = 70\n  lower_inclusive = true\n  upper = 500",
        r"ganciclovir\.induction: the highest band must run to infinity", id="no-top-band",
    ),
    pytest.param(
        "ganciclovir", GCV_FIRST_BAND, 'dose = 5.0\n  interval = "q12h"\n',
        r"ganciclovir\.toml.*cite", id="band-without-cite",
    ),
    pytest.param(
        "ganciclovir", GCV_FIRST_BAND, 'dose = 5.0\n  interval = "q12h"\n  cite = []\n',
        r"ganciclovir\.toml.*cite", id="band-with-empty-cite",
    ),
    pytest.param(
        "ganciclovir", GCV_FIRST_BAND,
        'dose = 5.0\n  interval = "q12h"\n  cite = ["S-NO-SUCH-SOURCE"]\n',
        r"citation 'S-NO-SUCH-SOURCE' is not in citations\.toml", id="dangling-citation",
    ),
    pytest.param(
        "alerts", 'id = "ALR-HEMODIALYSIS-NO-VALGANCICLOVIR"', 'id = "ALR-RENAL-DOSE-REDUCTION"',
        r"duplicate id 'ALR-RENAL-DOSE-REDUCTION'", id="duplicate-alert-id",
    ),
    pytest.param(
        "valganciclovir", 'id = "valganciclovir.maintenance"', 'id = "valganciclovir.induction"',
        r"duplicate schedule id", id="duplicate-schedule-id",
    ),
    pytest.param(
        "regimens", 'when = ["cns_disease"]\n', 'when = ["cns_disease", "no_such_predicate"]\n',
        r"regimens\.toml: rule REG-CNS-COMBINATION: unknown predicate 'no_such_predicate'",
        id="unknown-predicate-in-rule",
    ),
    pytest.param(
        "alerts", 'when = ["renal_impairment"]', 'when = ["renal_impairment", "nonsense"]',
        r"alerts\.toml: ALR-RENAL-DOSE-REDUCTION: unknown predicate 'nonsense'",
        id="unknown-predicate-in-alert",
    ),
    pytest.param(
        "maintenance",
        'unless = ["ganciclovir_unusable", ',
        'unless = ["ganciclovir_unusabel", ',
        r"maintenance\.toml.*unknown predicate 'ganciclovir_unusabel'",
        id="unknown-predicate-in-maintenance",
    ),
    pytest.param(
        "maintenance", 'when = ["hiv_positive"]', 'when = ["hiv_postive"]',
        r"maintenance\.toml: STOP-HIV-IMMUNE-RECOVERY: unknown predicate 'hiv_postive'",
        id="unknown-predicate-in-criterion",
    ),
    pytest.param(
        "regimens", 'when = ["hiv_positive", "gi_disease"]', 'when = ["hiv_positive", "gi"]',
        r"regimens\.toml: regimen ganciclovir_with_valganciclovir_step_down duration note: "
        r"unknown predicate 'gi'",
        id="unknown-predicate-in-duration-note",
    ),
    pytest.param(
        "regimens", 'regimen = "ganciclovir_plus_foscarnet"', 'regimen = "no_such_regimen"',
        r"no regimen 'no_such_regimen'", id="dangling-regimen",
    ),
    pytest.param(
        "ganciclovir", GCV_FIRST_BAND,
        'dose = 6.0\n  interval = "q12h"\n  cite = ["S-GCV-RXREASONER"]\n',
        r"ganciclovir\.induction: a row gives 12/day, above the label maximum 10/day",
        id="row-above-max-per-day",
    ),
    pytest.param(
        "foscarnet", 'dose = 45.0\n  interval = "q8h"', 'dose = 45.0\n  interval = "q6h"',
        r"foscarnet\.toml", id="unknown-interval",
    ),
    pytest.param(
        "ganciclovir", GCV_FIRST_BAND, 'dose = 5.0\n  cite = ["S-GCV-RXREASONER"]\n',
        r"ganciclovir\.toml.*dose and interval", id="recommended-row-without-interval",
    ),
    pytest.param(
        "cidofovir", 'id = "cidofovir"', 'id = "cidofovirr"',
        r"cidofovir\.toml: id", id="drug-id-not-file-name",
    ),
    pytest.param(
        "manifest", 'version = "', 'version_ = "', r"manifest\.toml", id="manifest-without-version",
    ),
    pytest.param(
        "citations", "[[source]]\n", "[[source]\n", r"citations\.toml: not valid TOML",
        id="invalid-toml",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "old", "new", "match"), BROKEN)
def test_broken_knowledge_is_refused(data_copy, name, old, new, match):
    edit(data_copy, name, old, new)
    with pytest.raises(KnowledgeError, match=match):
        loader.load(data_dir=data_copy)


def test_missing_file_is_refused(data_copy):
    (data_copy / "foscarnet.toml").unlink()
    with pytest.raises(KnowledgeError, match="cannot read the knowledge files"):
        loader.load(data_dir=data_copy)


# --- overrides --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["ganciclovir_min_anc", "ganciclovir_min_platelets", "cockcroft_gault_female_factor",
     "cidofovir_max_serum_creatinine", "maribavir_min_weight"],
)  # fmt: skip
def test_override_of_a_graded_parameter_is_refused(name):
    k = loader.load()
    assert k.param(name).grade is not Grade.NOT_CONFIRMED
    with pytest.raises(KnowledgeError, match=f"override '{name}': only NOT CONFIRMED"):
        loader.load(overrides={name: 1})


def test_override_of_graded_a_anc_threshold_is_refused_through_the_api():
    with pytest.raises(KnowledgeError, match="grade A"):
        cmvrx.load_knowledge(overrides={"ganciclovir_min_anc": 400})


def test_override_of_an_unknown_parameter_is_refused():
    with pytest.raises(KnowledgeError, match="no such parameter"):
        loader.load(overrides={"no_such_parameter": 1})


def test_override_of_a_not_confirmed_parameter_works_and_changes_the_hash():
    bundled = loader.load()
    assert bundled.param("creatinine_max_age_hours").grade is Grade.NOT_CONFIRMED
    k = loader.load(overrides={"creatinine_max_age_hours": 48})
    assert k.number("creatinine_max_age_hours") == 48
    assert k.overridden == ("creatinine_max_age_hours",)
    assert k.content_hash != bundled.content_hash
    # the same override gives the same hash; a different value a different one
    assert loader.load(overrides={"creatinine_max_age_hours": 48}).content_hash == k.content_hash
    other = loader.load(overrides={"creatinine_max_age_hours": 96}).content_hash
    assert other not in (k.content_hash, bundled.content_hash)


def test_not_confirmed_override_changes_behaviour():
    """A 60-h-old creatinine is fresh under the bundled 72 h, stale under an override of 48 h."""
    case = {
        "case_id": "override",
        "patient": {"age": {"value": 50, "unit": "a"}, "sex": "male",
                    "weight": {"value": 70, "unit": "kg"}},
        "renal": {"dialysis": "none",
                  "serum_creatinine": {"value": 1.0, "unit": "mg/dL",
                                       "measured_at": (AS_OF - timedelta(hours=60)).isoformat()}},
        "disease": {"sites": ["pneumonitis"]},
    }  # fmt: skip
    assert cmvrx.plan(case, as_of=AS_OF).renal.insufficient is None
    strict = cmvrx.load_knowledge(overrides={"creatinine_max_age_hours": 48})
    plan = cmvrx.plan(case, as_of=AS_OF, knowledge=strict)
    assert plan.renal.insufficient is not None
    assert plan.provenance.knowledge_hash == strict.content_hash
    ids = {n.id: n.value for n in plan.not_confirmed}
    assert ids["creatinine_max_age_hours"].startswith("48")


# --- closed vocabularies ----------------------------------------------------------------


def _templates(k) -> list[tuple[str, str]]:
    out = [(a.id, a.message) for a in k.alerts]
    for kind in ("end_of_induction", "stop", "restart", "lifelong"):
        out.extend((c.id, c.text) for c in k.criteria(kind))
    return out


def test_every_message_placeholder_is_known():
    k = loader.load()
    templates = _templates(k)
    assert len(templates) > 10
    for rule_id, template in templates:
        unknown = placeholders(template) - PLACEHOLDERS
        assert not unknown, f"{rule_id}: unknown placeholder(s) {sorted(unknown)}"


def test_every_placeholder_has_a_value_and_every_message_renders():
    k = loader.load()
    case = cmvrx.load_case(
        {
            "case_id": "render",
            "patient": {"age": {"value": 40, "unit": "a"}, "sex": "female",
                        "weight": {"value": 60, "unit": "kg"}, "height": {"value": 165, "unit": "cm"}},
            "renal": {"dialysis": "none"},
            "disease": {"sites": ["retinitis"]},
            "hiv": {"status": "positive"},
        }
    )  # fmt: skip
    context = alert_context(situation(read_facts(case, k, AS_OF), k))
    assert set(context) == PLACEHOLDERS
    for rule_id, template in _templates(k):
        rendered = render(template, context)
        assert "{" not in rendered, rule_id


def _predicates_used(k) -> set[str]:
    used: set[str] = set()
    for rule in (*k.rules, *k.refusals, *k.alerts):
        used |= {*rule.when, *rule.unless}
    for item in k.monitoring:
        used |= set(item.when)
    for option in k.maintenance.option:
        used |= set(option.unless)
    for regimen in k.regimens.values():
        if regimen.step_down is not None:
            used |= set(regimen.step_down.requires)
        for note in regimen.induction.note:
            used |= set(note.when)
    for kind in ("end_of_induction", "stop", "restart", "lifelong"):
        for criterion in k.criteria(kind):
            used |= {*criterion.when, *criterion.unless}
    return used


def test_every_predicate_is_used_or_documented_as_unused():
    used = _predicates_used(loader.load())
    assert used <= set(PREDICATES)
    unexplained = set(PREDICATES) - used - set(DOCUMENTED_UNUSED)
    assert not unexplained, f"predicates no rule uses: {sorted(unexplained)}"


def test_documented_unused_predicates_are_really_unused_and_exist():
    used = _predicates_used(loader.load())
    assert set(DOCUMENTED_UNUSED) <= set(PREDICATES)
    assert not set(DOCUMENTED_UNUSED) & used, "now used: remove from DOCUMENTED_UNUSED"
