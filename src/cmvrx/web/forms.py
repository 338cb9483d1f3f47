"""Form bodies of the web page: read them, turn the case form into a case document, and
put each API error next to the form field it names.

The page converts nothing: each value goes to the API with the unit the clinician chose
(kg/lb, cm/in, mg/dL/µmol/L), and ``cmvrx.units`` converts. The page checks only that a
number is a number; every other check is the API's, and its error (``field`` = the
case path) is shown at the input of that path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request

MAX_BODY = 400_000  # a case file or FHIR Bundle pasted in (the reader caps cases at 256 kB)


@dataclass
class FormData:
    """A parsed ``application/x-www-form-urlencoded`` body (names may repeat)."""

    pairs: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str:
        for key, value in self.pairs:
            if key == name:
                return value.strip()
        return ""

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]

    def values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.pairs:
            out.setdefault(key, value)
        return out


async def read_form(request: Request) -> FormData:
    """The form body (URL-encoded only, at most ``MAX_BODY`` bytes); 415/413 otherwise."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "a form body is expected")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, "the form is too large")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=400, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "the form could not be read") from exc
    return FormData(pairs)


@dataclass(frozen=True)
class Field:
    name: str  # the case path, e.g. "patient.weight.value"
    label: str
    kind: str = "number"  # number | text | select | datetime | checkboxes | yesno
    options: tuple[tuple[str, str], ...] = ()
    unit_of: str | None = None  # the unit field that goes with this value
    time_of: str | None = None  # the shared time field of this measurement
    required: bool = False
    hint: str = ""


@dataclass(frozen=True)
class Group:
    title: str
    fields: tuple[Field, ...]


_YES_NO = (("", "not recorded"), ("true", "yes"), ("false", "no"))
SITES = (
    "encephalitis", "ventriculitis", "myelitis", "polyradiculopathy", "retinitis", "colitis",
    "esophagitis", "gastrointestinal_other", "pneumonitis", "hepatitis", "nephritis",
    "cmv_syndrome", "disseminated",
)  # fmt: skip


def _unit(name: str, label: str, options: Iterable[tuple[str, str]]) -> Field:
    return Field(name, label, "select", tuple(options))


CASE_FORM: tuple[Group, ...] = (
    Group(
        "Patient",
        (
            Field("case_id", "Case label (no name or record number)", "text", required=True),
            Field("patient.age.value", "Age", unit_of="patient.age.unit", required=True),
            _unit("patient.age.unit", "Age unit", (("a", "years"), ("mo", "months"))),
            Field(
                "patient.sex",
                "Sex",
                "select",
                (("", "— choose —"), ("female", "female"), ("male", "male")),
                required=True,
            ),
            Field("patient.weight.value", "Weight", unit_of="patient.weight.unit", required=True),
            _unit("patient.weight.unit", "Weight unit", (("kg", "kg"), ("[lb_av]", "lb"))),
            Field("patient.height.value", "Height", unit_of="patient.height.unit"),
            _unit("patient.height.unit", "Height unit", (("cm", "cm"), ("[in_i]", "in"))),
            Field("patient.pregnant", "Pregnant", "yesno", _YES_NO),
        ),
    ),
    Group(
        "Kidneys",
        (
            Field(
                "renal.serum_creatinine.value",
                "Serum creatinine",
                unit_of="renal.serum_creatinine.unit",
                time_of="renal.serum_creatinine.measured_at",
            ),
            _unit(
                "renal.serum_creatinine.unit",
                "Creatinine unit",
                (("mg/dL", "mg/dL"), ("umol/L", "µmol/L")),
            ),
            Field("renal.serum_creatinine.measured_at", "Creatinine drawn at (UTC)", "datetime"),
            Field(
                "renal.dialysis",
                "Dialysis",
                "select",
                (
                    ("", "— choose —"),
                    ("none", "none"),
                    ("intermittent_hemodialysis", "intermittent hemodialysis"),
                    ("crrt", "CRRT"),
                    ("peritoneal", "peritoneal"),
                ),
                required=True,
            ),
        ),
    ),
    Group(
        "Disease",
        (
            Field(
                "disease.sites",
                "Disease sites",
                "checkboxes",
                tuple((s, s.replace("_", " ")) for s in SITES),
                required=True,
            ),
            Field("disease.refractory", "Refractory (clinician's judgement)", "yesno", _YES_NO),
            Field(
                "hiv.status",
                "HIV",
                "select",
                (
                    ("", "not recorded"),
                    ("positive", "positive"),
                    ("negative", "negative"),
                    ("unknown", "unknown"),
                ),
            ),
            Field("hiv.cd4.value", "CD4 (cells/µL)", time_of="hiv.cd4.measured_at"),
            Field("hiv.cd4.measured_at", "CD4 drawn at (UTC)", "datetime"),
            Field("hiv.on_art", "On ART", "yesno", _YES_NO),
            Field(
                "transplant.kind",
                "Transplant",
                "select",
                (("", "none recorded"), ("hsct", "HSCT"), ("sot", "solid organ")),
            ),
            Field("transplant.detail", "Transplant detail (e.g. allogeneic, kidney)", "text"),
            Field("medications", "Current medications (generic names, comma-separated)", "text"),
        ),
    ),
    Group(
        "Blood counts",
        (
            Field("blood_counts.anc.value", "ANC (cells/µL)", time_of="blood_counts.measured_at"),
            Field(
                "blood_counts.platelets.value",
                "Platelets (cells/µL)",
                time_of="blood_counts.measured_at",
            ),
            Field(
                "blood_counts.hemoglobin.value",
                "Hemoglobin (g/dL)",
                time_of="blood_counts.measured_at",
            ),
            Field("blood_counts.measured_at", "Counts drawn at (UTC)", "datetime"),
        ),
    ),
    Group(
        "Electrolytes (mmol/L)",
        (
            Field("electrolytes.potassium.value", "Potassium", time_of="electrolytes.measured_at"),
            Field("electrolytes.magnesium.value", "Magnesium", time_of="electrolytes.measured_at"),
            Field(
                "electrolytes.ionized_calcium.value",
                "Ionized calcium",
                time_of="electrolytes.measured_at",
            ),
            Field("electrolytes.phosphate.value", "Phosphate", time_of="electrolytes.measured_at"),
            Field("electrolytes.measured_at", "Electrolytes drawn at (UTC)", "datetime"),
        ),
    ),
    Group(
        "Oral route",
        (
            Field("oral.can_take_oral", "Can take oral medicines", "yesno", _YES_NO),
            Field("oral.can_absorb_oral", "Can absorb oral medicines", "yesno", _YES_NO),
        ),
    ),
)

FIXED_UNITS = {
    "hiv.cd4": "cells/uL",
    "blood_counts.anc": "cells/uL",
    "blood_counts.platelets": "cells/uL",
    "blood_counts.hemoglobin": "g/dL",
    "electrolytes.potassium": "mmol/L",
    "electrolytes.magnesium": "mmol/L",
    "electrolytes.ionized_calcium": "mmol/L",
    "electrolytes.phosphate": "mmol/L",
}
ALL_FIELDS = {f.name: f for g in CASE_FORM for f in g.fields}


class FormInputError(Exception):
    """Field-level problems found before the API was called."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("form errors")
        self.errors = errors


def utc_time(text: str) -> str:
    """A ``datetime-local`` value (UTC by the form's label) as ISO 8601 with ``Z``."""
    if len(text) == 16:  # 2026-11-24T06:00
        return text + ":00Z"
    if len(text) == 19:  # 2026-11-24T06:00:00
        return text + "Z"
    return text  # anything else goes to the API as written (it says what is wrong)


def _put(doc: dict[str, Any], path: str, value: object) -> None:
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def case_document(form: FormData) -> dict[str, Any]:
    """The case document the form describes; empty inputs are left out (not recorded).
    ``FormInputError`` for a value that is not a number or a measurement without its time."""
    doc: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in ALL_FIELDS.values():
        if f.kind == "checkboxes":
            chosen = [v for v in form.all(f.name) if v]
            if chosen:
                _put(doc, f.name, chosen)
            continue
        raw = form.get(f.name)
        if not raw or f.name.endswith((".unit", ".measured_at")) or f.kind == "datetime":
            continue
        if f.kind == "number":
            number = _number(raw)
            if number is None:
                errors[f.name] = f"{raw!r} is not a number"
                continue
            base = f.name.removesuffix(".value")
            _put(doc, f.name, number)
            unit = form.get(f.unit_of) if f.unit_of else FIXED_UNITS.get(base)
            if unit:
                _put(doc, base + ".unit", unit)
            if f.time_of:
                when = form.get(f.time_of)
                if not when:
                    errors[f.time_of] = "required with the value"
                else:
                    _put(doc, base + ".measured_at", utc_time(when))
        elif f.kind == "yesno":
            _put(doc, f.name, raw == "true")
        elif f.name == "medications":
            _put(doc, f.name, [m.strip() for m in raw.split(",") if m.strip()])
        else:
            _put(doc, f.name, raw)
    if errors:
        raise FormInputError(errors)
    return doc


def _number(raw: str) -> float | None:
    text = raw.replace(",", ".") if raw.count(",") == 1 and "." not in raw else raw  # 0,8
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def form_field_for(error_field: str | None, names: Iterable[str]) -> str | None:
    """The form input an API error names: the same path, the shared time of a
    measurement, or the closest enclosing / enclosed input."""
    if not error_field:
        return None
    known = list(names)
    if error_field in known:
        return error_field
    for f in ALL_FIELDS.values():
        base = f.name.removesuffix(".value")
        if f.time_of and error_field == base + ".measured_at":
            return f.time_of
        if f.unit_of and error_field == base + ".unit":
            return f.unit_of
    for name in known:
        if name.startswith(error_field + ".") or error_field.startswith(name + "."):
            return name
    head = error_field.split(".")[0]
    return next((n for n in known if n.split(".")[0] == head), None)


def form_values_from_case(case: Mapping[str, Any]) -> dict[str, Any]:
    """Form values that show an imported case in the form (what the form has inputs for)."""
    values: dict[str, Any] = {}
    for f in ALL_FIELDS.values():
        node: Any = case
        for part in f.name.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is None:
            continue
        values[f.name] = ", ".join(node) if f.name == "medications" else node
    return values
