"""The façade: every interface (CLI, services, batch) calls these functions only."""

from __future__ import annotations

import json
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
    from collections.abc import Sequence

    from cmvrx.model.assessment import CourseAssessment
    from cmvrx.model.course import Course
    from cmvrx.model.dosage import Dosage
    from cmvrx.model.order_check import OrderCheck

    OrderInput = Dosage | Mapping[str, object]


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
    """The parsed YAML/JSON document behind a mapping, a file path, or text."""
    if isinstance(source, Path) or (
        isinstance(source, str)
        and "\n" not in source
        and source.endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {what} file: {exc.strerror}", field=str(path)) from exc
        return _parse_text(text, json_first=path.suffix == ".json")
    if isinstance(source, str):
        return _parse_text(source, json_first=source.lstrip().startswith("{"))
    return source


def _parse_text(text: str, *, json_first: bool) -> object:
    import yaml

    try:
        return json.loads(text) if json_first else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError(
            f"the case is not valid {'JSON' if json_first else 'YAML'}: {exc}"
        ) from exc


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
    knowledge: Knowledge | None = None,
) -> DrugDose:
    """A quick single-drug dose calculation (blood counts are not checked here)."""
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
    return draw_course(
        load_course(course), load_knowledge(), as_of=as_of, png_path=png_path, svg_path=svg_path
    )


def _require_aware(as_of: datetime) -> None:
    if as_of.tzinfo is None:
        raise InputError("as_of must carry a time zone", field="as_of")


def parse_order(doc: Mapping[str, object]) -> Dosage:
    """An order document (docs/order-check.md) as a structured ``Dosage``; bad input is an
    ``InputError`` naming the field."""
    from cmvrx.order_input import parse_order as parse

    return parse(doc)


def read_orders(source: Mapping[str, Any] | str | Path) -> list[Dosage]:
    """The orders of an order file or text (YAML/JSON): one order document or a list.
    A FHIR MedicationRequest is not read here (the FHIR layer converts it to a Dosage)."""
    data = _read_document(source, "order")
    items = data if isinstance(data, list) else [data]
    if not items:
        raise InputError("the order file holds no order", field="order")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InputError("an order must be a mapping (YAML/JSON object)", field=f"order[{i}]")
        out.append(_fhir_order(item) if "resourceType" in item else parse_order(item))
    return out


#: The hook for FHIR orders: a module with ``dosage_from_medication_request(resource:
#: Mapping[str, object]) -> Dosage`` (the FHIR layer provides it).
FHIR_ORDER_MODULE = "cmvrx.fhir.medication_request"


def _fhir_order(resource: Mapping[str, object]) -> Dosage:
    import importlib

    kind = resource.get("resourceType")
    if kind != "MedicationRequest":
        raise InputError(f"a FHIR {kind} is not an order", field="resourceType")
    try:
        module = importlib.import_module(FHIR_ORDER_MODULE)
    except ImportError:
        raise InputError(
            "a FHIR MedicationRequest needs the FHIR layer (cmvrx.fhir), not installed here",
            field="resourceType",
        ) from None
    dosage: Dosage = module.dosage_from_medication_request(resource)
    return dosage


def check_order(
    subject: Case | Course | Mapping[str, Any] | str | Path,
    orders: OrderInput | Sequence[OrderInput],
    *,
    as_of: datetime,
    knowledge: Knowledge | None = None,
) -> OrderCheck:
    """Is each proposed order right for this patient at ``as_of``, and if not, what is?
    ``subject``: a case (anything ``load_case`` takes) or a course (its latest case);
    ``orders``: one ``Dosage`` or order document, or a sequence of them (checked together:
    duplicates, forbidden combinations, a CNS combination's missing partner)."""
    from cmvrx.engine.order_check import check

    _require_aware(as_of)
    k = knowledge or load_knowledge()
    return check(_case_of(subject, as_of, k), k, as_of, _orders_of(orders))


def _case_of(
    subject: Case | Course | Mapping[str, Any] | str | Path, as_of: datetime, k: Knowledge
) -> Case:
    from cmvrx.model.course import Course

    if isinstance(subject, Course):
        return _course_case(subject, as_of, k)
    if isinstance(subject, Case):
        return subject
    data = _read_document(subject, "case")
    if isinstance(data, Mapping) and "baseline" in data and "events" in data:
        return _course_case(load_course(data), as_of, k)
    return load_case(data)  # type: ignore[arg-type]


def _course_case(course: Course, as_of: datetime, k: Knowledge) -> Case:
    """The course's case at ``as_of``: the baseline with every event up to then applied."""
    from cmvrx.engine.course_state import build_state

    return build_state(course, k, as_of).case


def _orders_of(orders: object) -> list[Dosage]:
    from cmvrx.model.dosage import Dosage

    items = [orders] if isinstance(orders, Dosage | Mapping) else orders
    if not isinstance(items, list | tuple):
        raise InputError("orders must be an order or a list of orders", field="orders")
    out = []
    for item in items:
        if isinstance(item, Dosage):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(parse_order(item))
        else:
            raise InputError("an order must be a Dosage or an order document", field="orders")
    return out
