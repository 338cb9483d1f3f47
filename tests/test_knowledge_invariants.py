"""Loader invariants that keep a wrong number out of the knowledge, and no dead numbers.

- every co-medication (inducer) dose is within the schedule's label daily maximum;
- an infusion default is never below the minimum (the label minimums are checked
  against the label in test_knowledge_values.py);
- the pediatric eGFR edge is one value, the parameter ``pediatric_full_dose_min_egfr``:
  a table written with another edge is refused, and an override moves every table;
- every knowledge number is read by the engine, or listed as documentary (with why) in
  tests/mutation/allowed-survivors.toml.
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

import cmvrx
from cmvrx.errors import KnowledgeError
from cmvrx.knowledge import loader
from cmvrx.knowledge.schema import Administration
from test_knowledge_loader import edit  # the one edit helper

DATA = Path(str(loader.bundled_data()))
SRC = Path(cmvrx.__file__).parent
ALLOWED = Path(__file__).parent / "mutation" / "allowed-survivors.toml"
T = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_a_co_medication_dose_above_the_daily_maximum_is_refused(data_copy: Path) -> None:
    # 1,200 mg twice daily with phenytoin is 2,400 mg/day: a 2,160 maximum cannot hold it.
    edit(data_copy, "maribavir", "max_per_day = 2400", "max_per_day = 2160")
    with pytest.raises(KnowledgeError, match="above the label maximum"):
        loader.load(data_dir=data_copy)


def test_an_infusion_default_below_the_minimum_is_refused(data_copy: Path) -> None:
    edit(data_copy, "ganciclovir", "infusion_minutes_default = 60", "infusion_minutes_default = 30")
    with pytest.raises(KnowledgeError, match="infusion_minutes_default 30 is below"):
        loader.load(data_dir=data_copy)


def test_a_pediatric_table_with_its_own_edge_is_refused(data_copy: Path) -> None:
    edit(
        data_copy,
        "parameters",
        "[parameter.pediatric_full_dose_min_egfr]\nvalue = 70",
        "[parameter.pediatric_full_dose_min_egfr]\nvalue = 71",
    )
    with pytest.raises(KnowledgeError, match="pediatric_full_dose_min_egfr"):
        loader.load(data_dir=data_copy)


def test_the_pediatric_edge_override_moves_every_pediatric_table() -> None:
    moved = cmvrx.load_knowledge({"pediatric_full_dose_min_egfr": 80})
    for drug, phase in [("ganciclovir", "induction"), ("foscarnet", "maintenance")]:
        args = {"weight_kg": 20, "age_years": 6, "sex": "female", "height_cm": 100}
        # bedside Schwartz 0.413 × 100 / 0.55 = 75.1: full dose at the bundled 70, not at 80
        assert cmvrx.dose(drug, phase=phase, as_of=T, creatinine=0.55, **args).status == "dose"
        assert (
            cmvrx.dose(drug, phase=phase, as_of=T, creatinine=0.55, knowledge=moved, **args).status
            == "not_recommended"
        )


def _documentary() -> set[tuple[str, str]]:
    data = tomllib.loads(ALLOWED.read_text(encoding="utf-8"))
    return {(e["file"], e["path"]) for e in data.get("survivor", []) if e.get("documentary")}


def _engine_source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.py"))


def test_every_parameter_is_read_by_the_engine_or_documentary() -> None:
    code, documentary = _engine_source(), _documentary()
    params = tomllib.loads((DATA / "parameters.toml").read_text(encoding="utf-8"))["parameter"]
    dead = [
        name
        for name in params
        if f'"{name}"' not in code
        and re.sub(r"_(fe)?male_", "_{sex}_", name) not in code  # read as f"..._{sex}_..."
        and ("parameters.toml", f"parameter.{name}.value") not in documentary
    ]
    assert dead == [], f"parameters no code reads: {dead}"


def test_every_administration_number_is_read_by_the_engine_or_documentary() -> None:
    code, documentary = _engine_source(), _documentary()
    engine = "\n".join(p.read_text(encoding="utf-8") for p in (SRC / "engine").rglob("*.py"))
    numbers = [
        f for f, info in Administration.model_fields.items() if "float" in str(info.annotation)
    ]
    assert numbers, "schema changed: no numeric administration fields found"
    for drug in loader.DRUG_FILES:
        given = tomllib.loads((DATA / f"{drug}.toml").read_text(encoding="utf-8"))["administration"]
        for field in numbers:
            if field in given and (f"{drug}.toml", f"administration.{field}") not in documentary:
                assert re.search(rf"\.{field}\b", engine), (
                    f"{drug}: administration.{field} is never read"
                )
    assert code
