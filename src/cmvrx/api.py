"""The façade: every interface (CLI, services, batch) calls these functions only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import contextmanager
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

    from cmvrx.model.assessment import CourseAssessment, SetAside
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


def _read_document(source: Mapping[str, Any] | list[Any] | str | Path, what: str) -> object:
    from cmvrx.documents import read_document

    return read_document(source, what)


def _validated(model: type[M], data: object, what: str) -> M:
    """``data`` validated as ``model``; the first problem becomes an ``InputError``."""
    if not isinstance(data, Mapping):
        raise InputError(f"a {what} must be a mapping (YAML/JSON object)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        from cmvrx.documents import input_error

        raise input_error(exc) from exc


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


def regimen_id(
    case: Case | Mapping[str, Any] | str | Path,
    *,
    as_of: datetime,
    knowledge: Knowledge | None = None,
) -> str | None:
    """The regimen id the plan for ``case`` would choose (``plan(...).regimen.regimen_id``):
    its facts, situation and first regimen rule that holds, without the doses, alerts and
    texts of a whole plan (for the audit, which needs only the id; a test holds it equal
    to the plan's on every vignette)."""
    from cmvrx.engine.intake import read_facts
    from cmvrx.engine.planner import choose_rule, situation

    _require_aware(as_of)
    k = knowledge or load_knowledge()
    return choose_rule(situation(read_facts(load_case(case), k, as_of), k)).regimen


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
    from cmvrx.engine.course.assess import assess

    _require_aware(as_of)
    return assess(load_course(course), knowledge or load_knowledge(), as_of)


def course_data_review(
    course: Course | Mapping[str, Any] | str | Path, *, as_of: datetime
) -> tuple[SetAside, ...]:
    """The events of ``course`` known at ``as_of`` that an assessment would not use as
    recorded: invalid, entered in error, held for confirmation (implausible against the
    patient's own recent values) or superseded — each with its seq and the reason."""
    from cmvrx.engine.course.review import review_course

    _require_aware(as_of)
    return review_course(load_course(course), load_knowledge(), as_of).set_aside


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


def parse_order(doc: Mapping[str, object]) -> Dosage:
    """An order document (docs/order-check.md) as a structured ``Dosage``; bad input is an
    ``InputError`` naming the field."""
    from cmvrx.order_input import parse_order as parse

    return parse(doc)


def read_order(doc: Mapping[str, object]) -> Dosage:
    """One order: an order document or a FHIR MedicationRequest (read by the FHIR layer)."""
    return _fhir_order(doc) if "resourceType" in doc else parse_order(doc)


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
    from cmvrx.engine.course.state import build_state

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
            out.append(_fhir_order(item) if "resourceType" in item else parse_order(item))
        else:
            raise InputError("an order must be a Dosage or an order document", field="orders")
    return out


# --- provenance, chart data, courses against a store --------------------------------------


def provenance(as_of: datetime, knowledge: Knowledge | None = None) -> dict[str, str]:
    """The stamp every output carries: cmvrx and knowledge versions, knowledge hash,
    ``as_of`` and the disclaimer."""
    from cmvrx._version import __version__
    from cmvrx.model.plan import DISCLAIMER

    k = knowledge or load_knowledge()
    return {
        "cmvrx_version": __version__,
        "knowledge_version": k.version,
        "knowledge_hash": k.content_hash,
        "as_of": as_of.isoformat(),
        "disclaimer": DISCLAIMER,
    }


def dose_document(
    result: DrugDose, *, as_of: datetime, knowledge: Knowledge | None = None
) -> dict[str, Any]:
    """A dose stamped with its provenance — the JSON ``cmvrx dose --json`` prints: the
    ``DrugDose`` fields, its structured ``dosage``, and ``provenance``."""
    from dataclasses import asdict

    from cmvrx.model.dosage import from_drug_dose

    dosage = from_drug_dose(result)
    body = asdict(result)
    body.pop("administration", None)
    body["dosage"] = None if dosage is None else dosage.to_dict()
    return {"dose": body, "provenance": provenance(as_of, knowledge)}


def chart_series(
    course: Course | Mapping[str, Any] | str | Path,
    *,
    as_of: datetime,
    knowledge: Knowledge | None = None,
) -> dict[str, Any]:
    """The course chart's data as JSON-ready series (viral load, ANC, platelets, CrCl,
    therapy periods, thresholds), for an interface that draws it itself; no matplotlib."""
    from cmvrx.chart_data import series

    _require_aware(as_of)
    return series(load_course(course), knowledge or load_knowledge(), as_of)


if TYPE_CHECKING:
    from collections.abc import Iterator

    from cmvrx.model.course import Event
    from cmvrx.store.port import CourseStore, CourseSummary, StoredAssessment

    StoreRef = CourseStore | str | None


def open_course_store(db: str | None = None, *, read_only: bool = False) -> CourseStore:
    """The course store at ``db`` (a SQLite path or URL; default ``$CMVRX_DB_URL``, else
    ./cmvrx-courses.sqlite); close it when done (or pass ``db`` to the functions below).
    ``read_only`` opens it for reading only (automatic for an unwritable SQLite file)."""
    from cmvrx.store import open_store

    return open_store(db, read_only=read_only)


def _store_of(store: StoreRef, *, read_only: bool = False) -> tuple[CourseStore, bool]:
    """(the store, whether this call opened it and must close it)."""
    if store is None or isinstance(store, str):
        return open_course_store(store, read_only=read_only), True
    return store, False


@contextmanager
def _using(store: StoreRef, *, read_only: bool = False) -> Iterator[CourseStore]:
    opened, owned = _store_of(store, read_only=read_only)
    try:
        yield opened
    finally:
        if owned:
            opened.close()


def create_course(
    course_id: str,
    baseline: Case | Mapping[str, Any] | str | Path,
    *,
    events: Sequence[Event] = (),
    store: StoreRef = None,
) -> list[int]:
    """Store a new course (baseline case and optional events, one transaction); the
    events' sequence numbers."""
    case = load_case(baseline)
    with _using(store) as s:
        return s.create_course(course_id, case, events=list(events))


def import_course(
    source: Mapping[str, Any] | str | Path, *, store: StoreRef = None
) -> tuple[str, Case, list[int]]:
    """Store a whole course document (course_id, baseline, events) in one transaction."""
    from cmvrx.store.documents import course_from_document

    course_id, baseline, events = course_from_document(_read_document(source, "course"))
    return course_id, baseline, create_course(course_id, baseline, events=events, store=store)


def append_events(
    course_id: str, events: Mapping[str, Any] | list[Any] | str | Path, *, store: StoreRef = None
) -> list[int]:
    """Record one event or a list of events (a document, a file path or text), all or
    nothing; their sequence numbers."""
    from cmvrx.store.documents import events_from_document

    data = events if isinstance(events, list) else _read_document(events, "event")
    parsed = events_from_document(data)
    with _using(store) as s:
        return s.add_events(course_id, parsed)


def get_course(
    course_id: str, *, store: StoreRef = None, read_only: bool = False
) -> tuple[Course, list[StoredAssessment]]:
    """A stored course and its recorded assessments."""
    with _using(store, read_only=read_only) as s:
        return s.get_course(course_id), s.list_assessments(course_id)


def list_courses(*, store: StoreRef = None, read_only: bool = False) -> list[CourseSummary]:
    """Every stored course with its event count and time span."""
    with _using(store, read_only=read_only) as s:
        return s.list_courses()


def assess_and_record(
    course_id: str,
    *,
    as_of: datetime,
    store: StoreRef = None,
    knowledge: Knowledge | None = None,
    read_only: bool = False,
) -> tuple[CourseAssessment, int | None]:
    """Assess a stored course at ``as_of`` and record the assessment (its JSON, the
    knowledge version and hash, the events seen); the assessment and its id — None when
    the store is read-only (the assessment was not recorded)."""
    _require_aware(as_of)
    with _using(store, read_only=read_only) as s:
        course = s.get_course(course_id)
        result = assess_course(course, as_of=as_of, knowledge=knowledge)
        if s.read_only:
            return result, None
        stamp = result.provenance
        assessment_id = s.record_assessment(
            course_id,
            as_of,
            stamp.knowledge_version,
            stamp.knowledge_hash,
            json.dumps(result.to_dict(), ensure_ascii=False),
            events_seen=len(course.events),
        )
        return result, assessment_id


# --- population audit ----------------------------------------------------------------------

if TYPE_CHECKING:
    from cmvrx.audit.review import RecordReview


def review_record(
    resources: object,
    *,
    as_of: datetime,
    knowledge: Knowledge | None = None,
    no_dialysis_unless_recorded: bool = False,
) -> RecordReview:
    """One patient's FHIR record (a Bundle, a list of resources, a prefetch dict) reviewed
    at ``as_of``: every active CMV antiviral order through ``check_order`` and the course
    the record describes through ``assess_course``, as findings named by the audit's kind
    vocabulary (docs/audit.md). A record that cannot make a case gives
    ``insufficient_data`` findings naming what to record — never a dose."""
    from cmvrx.audit.review import review_items
    from cmvrx.fhir.resources import collect

    _require_aware(as_of)
    items, problems = collect(resources)
    return review_items(
        items,
        as_of=as_of,
        knowledge=knowledge or load_knowledge(),
        problems=problems,
        no_dialysis_unless_recorded=no_dialysis_unless_recorded,
    )


if TYPE_CHECKING:
    from cmvrx.audit.embedded import Progress
    from cmvrx.audit.runner import AuditRun


def audit(
    paths: Sequence[str | Path],
    *,
    out: str | Path,
    as_of: datetime | None = None,
    engine: str = "embedded",
    master: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    no_dialysis_unless_recorded: bool = True,
    knowledge: Knowledge | None = None,
) -> AuditRun:
    """Audit a FHIR Bulk Data export (NDJSON files, folders, a manifest): every CMV
    antiviral order reviewed by ``review_record`` at ``as_of`` (default: the manifest's
    ``transactionTime``, else now); writes findings.csv, findings.parquet, skipped.csv,
    summary.txt and report.html in ``out`` (docs/audit.md). Needs ``cmvrx[audit]``."""
    from cmvrx.audit.runner import run_audit

    return run_audit(
        [str(p) for p in paths],
        out=Path(out),
        knowledge=knowledge or load_knowledge(),
        as_of=as_of,
        engine=engine,
        master=master,
        workers=workers,
        progress=progress,
        no_dialysis_unless_recorded=no_dialysis_unless_recorded,
    )


def knowledge_catalogue(knowledge: Knowledge | None = None) -> dict[str, Any]:
    """Every dose table and rule with its sources, grade and the knowledge version (the
    web page's knowledge browser)."""
    from cmvrx.knowledge.catalogue import catalogue

    return catalogue(knowledge or load_knowledge())


def add_web_user(username: str, password: str, *, store: StoreRef = None) -> bool:
    """Create a local account of the web page (or reset its password): True when created.
    The password is stored only as its scrypt hash (``cmvrx.web.passwords``)."""
    from cmvrx.web.accounts import add_local_user

    with _using(store) as s:
        return add_local_user(s, username, password)  # type: ignore[arg-type]


def synthesize_cohort(
    out: str | Path,
    *,
    patients: int,
    seed: int,
    treated_share: float = 0.05,
    planted_share: float = 0.4,
    transaction_time: datetime | None = None,
    knowledge: Knowledge | None = None,
    progress: Any = None,
) -> Any:
    """Write a synthetic FHIR Bulk Data export (NDJSON per type, ``manifest.json``,
    ``answer-key.csv`` of the planted problems) to ``out``; a ``CohortSummary``.
    Deterministic by ``seed``; correct orders carry the label doses of this knowledge."""
    from cmvrx.synth.writer import write_cohort

    if transaction_time is not None:
        _require_aware(transaction_time)
    if patients < 0:
        raise InputError("the number of patients must be ≥ 0", field="patients")
    for name, share in (("treated_share", treated_share), ("planted_share", planted_share)):
        if not 0 <= share <= 1:
            raise InputError(f"{name} must lie between 0 and 1", field=name)
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise InputError(f"{str(out)!r} is a file, not a folder", field="out")
    try:
        return write_cohort(
            target,
            patients=patients,
            seed=seed,
            knowledge=knowledge or load_knowledge(),
            treated_share=treated_share,
            planted_share=planted_share,
            as_of=transaction_time,
            progress=progress,
        )
    except OSError as exc:
        raise InputError(f"cannot write the export: {exc.strerror or exc}", field="out") from exc
