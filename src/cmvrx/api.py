"""The façade: every interface (CLI, services, batch) calls these functions only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from cmvrx.errors import InputError
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.patient import Case
from cmvrx.model.plan import DrugDose, Plan

if TYPE_CHECKING:  # imported when first used: they cost ~50 ms of every `cmvrx plan`
    from cmvrx.model.assessment import CourseAssessment
    from cmvrx.model.course import Course


M = TypeVar("M", bound=BaseModel)


@lru_cache(maxsize=1)
def _default_knowledge() -> Knowledge:
    from cmvrx.knowledge.loader import load

    return load()


def load_knowledge(overrides: Mapping[str, float] | None = None) -> Knowledge:
    """The validated knowledge; ``overrides`` may change NOT CONFIRMED parameters only."""
    if not overrides:
        return _default_knowledge()
    from cmvrx.knowledge.loader import load

    return load(overrides)


def load_case(source: Case | Mapping[str, Any] | str | Path) -> Case:
    """A validated case from a ``Case``, a mapping, a YAML/JSON file path or text."""
    if isinstance(source, Case):
        return source
    return _validated(Case, _read_document(source, "case"), "case")


def _read_document(source: Mapping[str, Any] | str | Path, what: str) -> object:
    """The parsed YAML/JSON document behind a mapping, a file path, or text — through the
    one bounded reader (``cmvrx.reader``: size, depth, encoding, duplicate keys)."""
    from cmvrx import reader

    if isinstance(source, Path) or (
        isinstance(source, str)
        and "\n" not in source
        and source.endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(source)
        text = reader.read_file(path, what=what)
        return reader.parse(text, name=str(path), json_first=path.suffix == ".json" or None)
    if isinstance(source, str):
        return _parse_text(source, what=what)
    return source


def _parse_text(text: str, *, what: str = "case") -> object:
    """A document given as text (YAML or JSON)."""
    from cmvrx import reader

    return reader.parse(text, name=what)


def _validated(model: type[M], data: object, what: str) -> M:
    """``data`` validated as ``model``; the first problem becomes an ``InputError``."""
    if not isinstance(data, Mapping):
        raise InputError(f"a {what} must be a mapping (YAML/JSON object)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or what
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise InputError(f"{first['msg']}{more}", field=where) from exc


def plan(
    case: Case | Mapping[str, Any] | str | Path,
    *,
    as_of: datetime,
    knowledge: Knowledge | None = None,
) -> Plan:
    """The complete treatment plan for one patient at ``as_of`` (timezone-aware)."""
    from cmvrx.engine.planner import make_plan

    _require_aware(as_of)
    return make_plan(load_case(case), knowledge or load_knowledge(), as_of)


def dose(
    drug: str,
    *,
    phase: str,
    as_of: datetime,
    weight_kg: float,
    age_years: float,
    sex: str,
    creatinine: float | None = None,
    creatinine_unit: str = "mg/dL",
    dialysis: str = "none",
    height_cm: float | None = None,
    column: str | None = None,
    medications: tuple[str, ...] = (),
    urine_protein_mg_dl: float | None = None,
    urine_dipstick: str | None = None,
    low_birth_weight: bool | None = None,
    knowledge: Knowledge | None = None,
) -> DrugDose:
    """A quick single-drug dose calculation through every eligibility rule the plan
    applies to the drug (cidofovir needs urine protein; infants' valganciclovir needs
    ``low_birth_weight``). Checks it cannot make without a full case (blood counts,
    disease site, resistance, …) are listed in ``DrugDose.not_checked``."""
    from cmvrx.engine.quick import quick_dose

    _require_aware(as_of)
    k = knowledge or load_knowledge()
    fields = {
        "weight_kg": weight_kg,
        "age_years": age_years,
        "sex": sex,
        "creatinine": creatinine,
        "creatinine_unit": creatinine_unit,
        "dialysis": dialysis,
        "height_cm": height_cm,
        "column": column,
        "medications": medications,
        "urine_protein_mg_dl": urine_protein_mg_dl,
        "urine_dipstick": urine_dipstick,
        "low_birth_weight": low_birth_weight,
    }
    return quick_dose(k, drug, phase, as_of, fields)


def plan_schema() -> dict[str, Any]:
    """The JSON Schema of the case format."""
    return Case.model_json_schema()


def knowledge_summary(
    drug: str | None = None, knowledge: Knowledge | None = None
) -> dict[str, Any]:
    """What is loaded, with sources: all drugs, or one drug's tables."""
    from cmvrx.knowledge.summary import summarise

    return summarise(knowledge or load_knowledge(), drug)


def load_course(source: Course | Mapping[str, Any] | str | Path) -> Course:
    """A validated course (baseline case + events) from a ``Course``, a mapping, or a
    YAML/JSON file path or text."""
    from cmvrx.model.course import Course

    if isinstance(source, Course):
        return source
    return _validated(Course, _read_document(source, "course"), "course")


def assess_course(
    course: Course | Mapping[str, Any] | str | Path,
    *,
    as_of: datetime,
    knowledge: Knowledge | None = None,
) -> CourseAssessment:
    """Where a patient's course stands at ``as_of`` (timezone-aware): phase and day, doses
    against today's renal function, tests due, toxicity, step-down, end of induction,
    response and resistance, maintenance — every finding cited. Events after ``as_of``
    are ignored; the order events arrived in does not matter."""
    from cmvrx.engine.course import assess

    _require_aware(as_of)
    return assess(load_course(course), knowledge or load_knowledge(), as_of)


def chart_course(
    course: Course | Mapping[str, Any] | str | Path,
    *,
    as_of: datetime,
    png_path: str | Path | None = None,
    svg_path: str | Path | None = None,
) -> list[Path]:
    """Draw the course up to ``as_of`` (viral load on a log10 axis with the detection
    limit, ANC, platelets and CrCl beneath, therapy periods as bands) to PNG and/or SVG;
    the paths written. Needs matplotlib (``pip install 'cmvrx[course]'``)."""
    from cmvrx.chart import draw_course

    _require_aware(as_of)
    png, svg = _output_path(png_path, "png_path"), _output_path(svg_path, "svg_path")
    try:
        return draw_course(
            load_course(course), load_knowledge(), as_of=as_of, png_path=png, svg_path=svg
        )
    except OSError as exc:
        raise InputError(f"cannot write the chart: {exc.strerror or exc}", field="chart") from exc


def _output_path(path: str | Path | None, field: str) -> Path | None:
    """An output file whose folder exists (a clear error, not a traceback, when it does not)."""
    if path is None:
        return None
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise InputError(f"{str(path)!r} is not a file name", field=field)
    if not target.parent.is_dir():
        raise InputError(f"the folder {str(target.parent)!r} does not exist", field=field)
    if target.is_dir():
        raise InputError(f"{str(path)!r} is a folder", field=field)
    return target


def _require_aware(as_of: datetime) -> None:
    if as_of.tzinfo is None:
        raise InputError("as_of must carry a time zone", field="as_of")
