"""Load the knowledge data files, validate them strictly, and stamp version + hash.

Fails loudly (``KnowledgeError`` naming the file and key) on: an unknown key, a wrong
type, a band table with a gap or an overlap or not covering 0..∞, a recommended row
above the schedule's label maximum, a clinical row without a citation, a dangling
citation, a duplicate id, an unknown predicate, regimen or drug reference, and an
override of a value that is not graded NOT CONFIRMED.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
from collections.abc import Iterator, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cmvrx.errors import InputError, KnowledgeError
from cmvrx.knowledge import parse_cache
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.files import (
    AlertsFile,
    CitationsFile,
    CourseFile,
    MaintenanceFile,
    MonitoringFile,
    OrdersFile,
    ParametersFile,
    RegimensFile,
    ResistanceFile,
    VocabulariesFile,
)
from cmvrx.knowledge.predicate_names import PREDICATE_NAMES
from cmvrx.knowledge.schema import (
    Band,
    Drug,
    Grade,
    Parameter,
    Schedule,
)
from cmvrx.knowledge.terminology import TerminologyFile, check_terminology

DRUG_FILES = ("ganciclovir", "valganciclovir", "foscarnet", "cidofovir", "letermovir", "maribavir")
OTHER_FILES = (
    "manifest",
    "citations",
    "parameters",
    "regimens",
    "alerts",
    "monitoring",
    "resistance",
    "maintenance",
    "course",
    "orders",
    "vocabularies",
    "terminology",
)

#: The vocabularies the engine reads (vocabularies.toml must define each).
REQUIRED_VOCABULARIES = frozenset(
    {
        "cns_sites",
        "gi_sites",
        "ganciclovir_class",
        "calcineurin_or_mtor",
        "immunosuppressants",
        "renally_dosed",
    }
)

M = TypeVar("M", bound=BaseModel)


def bundled_data() -> Traversable:
    """The knowledge files shipped in the package (the one place that names them; the
    mutation tests in tests/mutation/ point this at a mutated copy, in their own process)."""
    return resources.files("cmvrx.knowledge") / "data"


def _read_all(data_dir: Path | None) -> dict[str, bytes]:
    root: Traversable = data_dir if data_dir is not None else bundled_data()
    names = (*OTHER_FILES, *DRUG_FILES)
    try:
        return {name: (root / f"{name}.toml").read_bytes() for name in names}
    except OSError as exc:
        raise KnowledgeError(f"cannot read the knowledge files in {root}: {exc}") from exc


def _parse(name: str, raw: bytes) -> dict[str, Any]:
    import tomllib  # here: a process served by the parse cache never needs it

    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"{name}.toml: not valid TOML: {exc}") from exc


def _parse_all(raw: Mapping[str, bytes]) -> tuple[dict[str, dict[str, Any]], bytes | None]:
    """Every file parsed: from the parse cache when it holds exactly these bytes, else
    by the TOML parser, with the cache entry to store once the knowledge proved valid.
    Validation follows either way."""
    cached = parse_cache.read(raw)
    if cached is not None:
        return cached, None
    data = {name: _parse(name, content) for name, content in raw.items()}
    return data, parse_cache.entry(raw, data)


def _validate(name: str, model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KnowledgeError(f"{name}.toml: {where}: {first['msg']}") from exc


def load(
    overrides: Mapping[str, float] | None = None, *, data_dir: Path | None = None
) -> Knowledge:
    """Load and validate the knowledge (bundled, or from ``data_dir`` for authoring and
    tests), applying NOT CONFIRMED ``overrides``."""
    raw = _read_all(data_dir)
    data, entry = _parse_all(raw)
    manifest = data["manifest"]
    version = manifest.get("version")
    if not isinstance(version, str):
        raise KnowledgeError("manifest.toml: version: missing or not a string")
    params = _validate("parameters", ParametersFile, data["parameters"])
    parameters = _apply_overrides(params.parameter, overrides or {})
    drugs = {n: _validate(n, Drug, data[n]) for n in DRUG_FILES}
    vocabularies = _validate("vocabularies", VocabulariesFile, data["vocabularies"])
    for name, drug in drugs.items():
        if drug.id != name:
            raise KnowledgeError(f"{name}.toml: id: {drug.id!r} does not match the file name")
    drugs = _pediatric_edge(drugs, params.parameter, parameters)
    regimens = _validate("regimens", RegimensFile, data["regimens"])
    knowledge = Knowledge(
        version=version,
        content_hash=_content_hash(raw, overrides or {}),
        sources={s.id: s for s in _validate("citations", CitationsFile, data["citations"]).source},
        parameters=parameters,
        schwartz_k=params.schwartz_k,
        plausible={p.field: p for p in params.plausible},
        drugs=drugs,
        regimens={r.id: r for r in regimens.regimen},
        rules=regimens.rule,
        refusals=regimens.refusal,
        alerts=_validate("alerts", AlertsFile, data["alerts"]).alert,
        monitoring=_validate("monitoring", MonitoringFile, data["monitoring"]).item,
        resistance=_validate("resistance", ResistanceFile, data["resistance"]).rule,
        maintenance=_validate("maintenance", MaintenanceFile, data["maintenance"]),
        overridden=tuple(sorted(overrides or {})),
        schedules={s.id: s for d in drugs.values() for s in d.schedule},
        numbers={
            name: float(p.value)
            for name, p in parameters.items()
            if isinstance(p.value, int | float) and not isinstance(p.value, bool)
        },
        course=_validate("course", CourseFile, data["course"]),
        orders=_validate("orders", OrdersFile, data["orders"]),
        vocabularies=vocabularies,
        vocabulary_sets={v.id: frozenset(v.items) for v in vocabularies.vocabulary},
        terminology=_validate("terminology", TerminologyFile, data["terminology"]),
    )
    _check(knowledge)
    if entry is not None:  # only files that made valid knowledge are kept
        parse_cache.store(entry)
    return knowledge


def _apply_overrides(
    parameters: Mapping[str, Parameter], overrides: Mapping[str, float]
) -> dict[str, Parameter]:
    result = dict(parameters)
    for name, value in overrides.items():
        current = result.get(name)
        if current is None:
            raise KnowledgeError(f"override {name!r}: no such parameter in parameters.toml")
        if current.grade is not Grade.NOT_CONFIRMED:
            raise KnowledgeError(
                f"override {name!r}: only NOT CONFIRMED values are configurable "
                f"(this one is grade {current.grade.value})"
            )
        bounds = current.bounds
        if bounds is None:
            raise InputError(
                "not configurable: this NOT CONFIRMED value has no bounds in parameters.toml",
                field=f"override {name}",
            )
        if not (isinstance(value, int | float) and bounds.min <= value <= bounds.max):
            raise InputError(
                f"{value!r} is outside the allowed {bounds.min:g}–{bounds.max:g} {current.unit}"
                f" ({bounds.note}; sources {', '.join(bounds.cite)})",
                field=f"override {name}",
            )
        result[name] = current.model_copy(update={"value": value})
    return result


#: The one parameter that is the inner edge of every pediatric (bedside-Schwartz) table.
PEDIATRIC_EDGE = "pediatric_full_dose_min_egfr"


def _pediatric_edge(
    drugs: dict[str, Drug], bundled: Mapping[str, Parameter], used: Mapping[str, Parameter]
) -> dict[str, Drug]:
    """Each pediatric eGFR table has one inner edge, and it must be the parameter
    ``pediatric_full_dose_min_egfr`` (NOT CONFIRMED): the loader refuses a table written
    with another edge, and an override of the parameter moves the edge of every table."""
    if PEDIATRIC_EDGE not in bundled:
        raise KnowledgeError(f"parameters.toml: no parameter {PEDIATRIC_EDGE!r}")
    written, edge = (float(p[PEDIATRIC_EDGE].value) for p in (bundled, used))
    out = dict(drugs)
    for name, drug in drugs.items():
        schedules = []
        for s in drug.schedule:
            if s.measure == "egfr_bedside_schwartz":
                inner = {b.lower for b in s.band if b.lower > 0}
                if inner != {written}:
                    raise KnowledgeError(
                        f"{name}.toml: {s.id}: the inner eGFR edge must be the parameter "
                        f"{PEDIATRIC_EDGE} ({written:g}), not {sorted(inner)}"
                    )
                s = s.model_copy(update={"band": tuple(_move(b, written, edge) for b in s.band)})
            schedules.append(s)
        out[name] = drug.model_copy(update={"schedule": tuple(schedules)})
    return out


def _move(band: Band, old: float, new: float) -> Band:
    update = {k: new for k in ("lower", "upper") if getattr(band, k) == old}
    return band.model_copy(update=update) if update else band


def _content_hash(raw: Mapping[str, bytes], overrides: Mapping[str, float]) -> str:
    digest = hashlib.sha256()
    for name in sorted(raw):
        digest.update(name.encode() + b"\0" + raw[name] + b"\0")
    for name in sorted(overrides):
        digest.update(f"override {name}={overrides[name]!r}\0".encode())
    return digest.hexdigest()[:16]


def _check(k: Knowledge) -> None:
    for schedule in k.schedules.values():
        _check_bands(schedule)
        _check_maximum(schedule)
    for drug in k.drugs.values():
        _check_infusion(drug)
    _check_unique_ids(k)
    _check_citations(k)
    _check_references(k)
    if k.terminology is not None:
        check_terminology(k.terminology, k.sources)


def _check_bands(s: Schedule) -> None:
    if s.measure == "none":
        return
    bands = sorted(s.band, key=lambda b: b.lower)
    first, last = bands[0], bands[-1]
    if first.lower != 0 or not first.lower_inclusive:
        raise KnowledgeError(f"{s.id}: the lowest band must start at 0 inclusive")
    if not math.isinf(last.upper):
        raise KnowledgeError(f"{s.id}: the highest band must run to infinity")
    for below, above in itertools.pairwise(bands):
        if below.upper < above.lower:
            raise KnowledgeError(f"{s.id}: gap between {below.upper:g} and {above.lower:g}")
        if below.upper > above.lower:
            raise KnowledgeError(f"{s.id}: bands overlap at {above.lower:g}")
        if below.upper_inclusive == above.lower_inclusive:
            kind = "overlap" if below.upper_inclusive else "gap"
            raise KnowledgeError(f"{s.id}: bands {kind} at exactly {above.lower:g}")


def _check_maximum(s: Schedule) -> None:
    rows = [*s.band, *(r for r in (s.hemodialysis, s.fixed) if r is not None), *s.modifier]
    for row in rows:
        if row.recommended and row.dose is not None and row.interval is not None:
            per_day = row.dose * row.interval.administrations_per_week / 7
            if per_day > s.max_per_day * (1 + 1e-9):
                raise KnowledgeError(
                    f"{s.id}: a row gives {per_day:g}/day, above the label maximum "
                    f"{s.max_per_day:g}/day"
                )


def _check_infusion(drug: Drug) -> None:
    a = drug.administration
    low, default = a.infusion_minutes_min, a.infusion_minutes_default
    if low is not None and default is not None and default < low:
        raise KnowledgeError(
            f"{drug.id}.toml: administration: infusion_minutes_default {default:g} is below "
            f"infusion_minutes_min {low:g}"
        )


def _check_unique_ids(k: Knowledge) -> None:
    ids: list[str] = [
        *k.schedules,
        *(r.id for r in k.rules),
        *(r.id for r in k.refusals),
        *(a.id for a in k.alerts),
        *(m.id for m in k.monitoring),
        *(r.id for r in k.resistance),
        *(r.id for r in (k.course.rule if k.course else ())),
        *(r.id for r in (k.orders.rule if k.orders else ())),
        *(c.id for c in (k.orders.combination if k.orders else ())),
        *(u.id for u in (k.orders.unusable if k.orders else ())),
    ]
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise KnowledgeError(f"duplicate id {item!r}")
        seen.add(item)
    if len(k.schedules) != sum(len(d.schedule) for d in k.drugs.values()):
        raise KnowledgeError("duplicate schedule id")


#: What can hold a ``cite`` (anything else, a number or a text, holds none).
_NESTED = (BaseModel, tuple, list, dict)


@functools.cache
def _field_names(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(model.model_fields)


def _iter_cites(obj: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(obj, BaseModel):
        for name in _field_names(type(obj)):
            value = getattr(obj, name)
            if name == "cite":
                for cid in value:
                    yield path, cid
            elif isinstance(value, _NESTED):
                yield from _iter_cites(value, f"{path}.{name}")
    elif isinstance(obj, tuple | list):
        for i, item in enumerate(obj):
            if isinstance(item, _NESTED):
                yield from _iter_cites(item, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for key, item in obj.items():
            if isinstance(item, _NESTED):
                yield from _iter_cites(item, f"{path}.{key}")


def citation_roots(k: Knowledge) -> dict[str, object]:
    """Where the citation check starts: each knowledge part under its path name."""
    return {
        "parameters": dict(k.parameters),
        "parameters.schwartz_k": k.schwartz_k,
        "regimens": (k.regimens, k.rules, k.refusals),
        "alerts": k.alerts,
        "monitoring": k.monitoring,
        "resistance": k.resistance,
        "maintenance": k.maintenance,
        "course": k.course,
        "orders": k.orders,
        "vocabularies": k.vocabularies,
        **{d.id: d for d in k.drugs.values()},
    }


def _check_citations(k: Knowledge) -> None:
    for root, obj in citation_roots(k).items():
        target = dict(obj) if isinstance(obj, Mapping) else obj
        for where, cid in _iter_cites(target, root):
            if cid not in k.sources:
                raise KnowledgeError(f"{where}: citation {cid!r} is not in citations.toml")


def _check_references(k: Knowledge) -> None:
    def known(where: str, names: tuple[str, ...]) -> None:
        for name in names:
            if name not in PREDICATE_NAMES:
                raise KnowledgeError(f"{where}: unknown predicate {name!r}")

    for rule in k.rules:
        known(f"regimens.toml: rule {rule.id}", (*rule.when, *rule.unless))
        if rule.regimen is not None and rule.regimen not in k.regimens:
            raise KnowledgeError(f"regimens.toml: rule {rule.id}: no regimen {rule.regimen!r}")
    for regimen in k.regimens.values():
        for component in regimen.components:
            k.schedule_for(component.drug, component.phase, "standard")
        if regimen.step_down is not None:
            known(f"regimens.toml: regimen {regimen.id}", regimen.step_down.requires)
            k.schedule_for(regimen.step_down.drug, regimen.step_down.phase, "standard")
        for note in regimen.induction.note:
            known(f"regimens.toml: regimen {regimen.id} duration note", note.when)
    for refusal in k.refusals:
        known(f"regimens.toml: refusal {refusal.id}", (*refusal.when, *refusal.unless))
        k.drug(refusal.drug)
    for alert in k.alerts:
        known(f"alerts.toml: {alert.id}", (*alert.when, *alert.unless))
    for item in k.monitoring:
        known(f"monitoring.toml: {item.id}", item.when)
    for kind in ("end_of_induction", "stop", "restart", "lifelong"):
        for criterion in k.criteria(kind):
            known(f"maintenance.toml: {criterion.id}", (*criterion.when, *criterion.unless))
    for option in k.maintenance.option:
        known(f"maintenance.toml: option {option.drug}", option.unless)
    for kind in ("end_of_induction", "stop", "restart", "lifelong"):
        for criterion in k.criteria(kind):
            known(f"maintenance.toml: {criterion.id}", (*criterion.when, *criterion.unless))
        k.drug(option.drug)
    missing = sorted(REQUIRED_VOCABULARIES - set(k.vocabulary_sets))
    if missing:
        raise KnowledgeError(f"vocabularies.toml: missing vocabulary {', '.join(missing)}")
    for unusable in k.orders.unusable if k.orders else ():
        known(f"orders.toml: unusable {unusable.id}", unusable.when)
        for drug in unusable.drugs:
            k.drug(drug)
    for combination in k.orders.combination if k.orders else ():
        for drug in combination.drugs:
            k.drug(drug)
