"""Assemble the case document from what the readers found: the newest valid value of
each analyte (a stale one reported), patient facts, renal state and dialysis, disease
sites, HIV, transplant, medications, counts and electrolytes — and validate it as a
``Case``. A required fact that is not recorded is a ``missing_fact`` problem, never a
default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from cmvrx.fhir.conditions import ConditionFacts
from cmvrx.fhir.observations import Reading
from cmvrx.fhir.problems import Match, Problem
from cmvrx.fhir.resources import Item
from cmvrx.fhir.values import day
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.patient import Case, Dialysis

_CURRENT = {
    "MedicationRequest": {"active", "on-hold"},
    "MedicationStatement": {"active", "intended"},
    "MedicationAdministration": {"in-progress"},
}
_STALE_AFTER = {  # analyte -> knowledge parameter giving its freshness limit (hours)
    "creatinine": "creatinine_max_age_hours",
    "anc": "blood_count_max_age_hours",
    "platelets": "blood_count_max_age_hours",
    "hemoglobin": "blood_count_max_age_hours",
}


@dataclass(frozen=True, slots=True)
class DrugUse:
    """A recognised drug in a medication resource: which ingredient, status, how matched."""

    resource: str
    ingredient: str
    role: str
    status: str
    route: str

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in ("resource", "ingredient", "role", "status", "route")}


@dataclass
class CaseAssembler:
    """Builds one patient's case document; reports into ``problems`` and ``matched``."""

    knowledge: Knowledge
    as_of: datetime
    facts: ConditionFacts
    drugs: list[DrugUse]
    intolerance: dict[str, bool]
    problems: list[Problem]
    matched: list[Match] = field(default_factory=list)

    def _problem(self, kind: Any, ref: str, fld: str, message: str, where: str = "") -> None:
        self.problems.append(Problem(kind, ref, fld, message, where))

    def build(
        self,
        case_id: str | None,
        patient: Item | None,
        readings: list[Reading],
        dialysis: Dialysis | None,
        assume_none: bool,
    ) -> tuple[dict[str, Any], Case | None]:
        """The case document and, when complete and valid, the ``Case``."""
        newest = self._newest(readings)
        doc = self._document(case_id, patient, newest, dialysis, assume_none)
        return doc, self._validate(doc)

    def _newest(self, readings: list[Reading]) -> dict[str, Reading]:
        newest: dict[str, Reading] = {}
        for r in readings:
            if r.analyte not in newest or r.at > newest[r.analyte].at:
                newest[r.analyte] = r
        for analyte, param in _STALE_AFTER.items():
            last = newest.get(analyte)
            if last is None:
                continue
            limit = self.knowledge.number(param)
            age_h = (self.as_of - last.at).total_seconds() / 3600
            if age_h > limit:
                self._problem(
                    "stale",
                    last.ref,
                    "effectiveDateTime",
                    f"newest {analyte} is {age_h:.0f} h old (limit {limit:g} h, {param}): measure it again",
                    last.where,
                )
        return newest

    def _missing(self, fld: str, message: str) -> None:
        self._problem("missing_fact", "", fld, message)

    def _document(
        self,
        case_id: str | None,
        patient: Item | None,
        newest: dict[str, Reading],
        dialysis: Dialysis | None,
        assume_none: bool,
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {"case_id": case_id}
        if case_id is None:
            self._missing("case_id", "no Patient id and no case_id given")
        doc["patient"] = self._patient(patient, newest)
        doc["renal"] = self._renal(newest, dialysis, assume_none)
        if self.facts.sites:
            doc["disease"] = {"sites": sorted(self.facts.sites)}
        else:
            self._missing(
                "disease.sites",
                "no active, confirmed Condition names a CMV disease site (SNOMED; ICD-10-CM has none for most sites)",
            )
        doc["hiv"] = self._hiv(newest)
        transplant = self._transplant()
        if transplant:
            doc["transplant"] = transplant
        doc["medications"] = sorted(
            {
                d.ingredient
                for d in self.drugs
                if d.status in _CURRENT.get(d.resource.split("/")[0], set())
            }
        )
        doc["blood_counts"] = {
            a: _measurement(newest[a]) for a in ("anc", "platelets", "hemoglobin") if a in newest
        }
        doc["electrolytes"] = {
            a: _measurement(newest[a])
            for a in ("potassium", "magnesium", "calcium", "ionized_calcium", "phosphate")
            if a in newest
        }
        if self.intolerance:
            doc["intolerance"] = dict(self.intolerance)
        return {k: v for k, v in doc.items() if v is not None}

    def _patient(self, patient: Item | None, newest: dict[str, Reading]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        r = patient.resource if patient else {}
        if patient is None:
            self._missing("patient", "no single Patient resource")
        gender = r.get("gender")
        if gender in ("male", "female"):
            out["sex"] = gender
        elif patient is not None:
            self._missing(
                "patient.sex",
                f"gender {gender!r}: Cockcroft–Gault needs male or female; state the sex to use",
            )
        born = day(r.get("birthDate"))
        if born is not None:
            age = _age(born, self.as_of.date())
            if age is None:
                self._problem(
                    "implausible",
                    patient.ref if patient else "",
                    "birthDate",
                    "birth date after as_of",
                )
            else:
                out["age"] = age
        elif patient is not None:
            self._missing("patient.age", f"birthDate {r.get('birthDate')!r} is not a full date")
        weight = newest.get("weight")
        if weight is not None:
            out["weight"] = {"value": weight.value, "unit": weight.unit}
            out["weight_measured_at"] = weight.at.isoformat()
        else:
            self._missing(
                "patient.weight", "no usable body weight (LOINC 29463-7): weigh the patient"
            )
        height = newest.get("height")
        if height is not None:
            out["height"] = {"value": height.value, "unit": height.unit}
        if self.facts.pregnant:
            out["pregnant"] = True
        return out

    def _renal(
        self, newest: dict[str, Reading], dialysis: Dialysis | None, assume_none: bool
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "creatinine" in newest:
            out["serum_creatinine"] = _measurement(newest["creatinine"])
        if "measured_creatinine_clearance" in newest:
            out["measured_creatinine_clearance"] = _measurement(
                newest["measured_creatinine_clearance"]
            )
        protein = self._urine_protein(newest)
        if protein:
            out["urine_protein"] = protein
        state = self._dialysis(dialysis, assume_none)
        if state is not None:
            out["dialysis"] = state.value
        return out

    def _dialysis(self, stated: Dialysis | None, assume_none: bool) -> Dialysis | None:
        f = self.facts
        recorded = Dialysis.intermittent_hemodialysis if f.hemodialysis else None
        evidence = f.dialysis_dependence or f.hemodialysis or f.dialysis_procedures
        if stated is not None:
            if stated is Dialysis.none and evidence:
                self._problem(
                    "conflict",
                    "",
                    "renal.dialysis",
                    "stated 'none' but dialysis is recorded: resolve it",
                )
                return None
            self.matched.append(Match("", "renal.dialysis", "stated by the caller"))
            return stated
        if recorded is not None:
            return recorded
        if f.dialysis_dependence:
            self._missing(
                "renal.dialysis",
                "dependence on dialysis is recorded but not the modality: state intermittent_hemodialysis, crrt or peritoneal",
            )
        elif f.dialysis_procedures:
            self._missing(
                "renal.dialysis",
                f"dialysis procedures are recorded ({', '.join(f.dialysis_procedures[-3:])}) but no current dialysis status: state it",
            )
        elif assume_none:
            self.matched.append(
                Match(
                    "",
                    "renal.dialysis",
                    "none: no dialysis recorded (caller chose no_dialysis_unless_recorded)",
                )
            )
            return Dialysis.none
        else:
            self._missing(
                "renal.dialysis",
                "no dialysis status recorded: state none, intermittent_hemodialysis, crrt or peritoneal",
            )
        return None

    def _urine_protein(self, newest: dict[str, Reading]) -> dict[str, Any] | None:
        quantity, dip = newest.get("urine_protein"), newest.get("urine_protein_dipstick")
        if quantity is None and dip is None:
            return None
        if quantity is not None and dip is not None and quantity.at != dip.at:
            if quantity.at > dip.at:
                dip = None
            else:
                quantity = None
        taken = quantity.at if quantity is not None else dip.at if dip is not None else None
        out: dict[str, Any] = {"measured_at": taken.isoformat() if taken else None}
        if quantity is not None:
            out["quantity"] = {"value": quantity.value, "unit": quantity.unit}
        if dip is not None:
            out["dipstick"] = dip.dipstick
        return out

    def _hiv(self, newest: dict[str, Reading]) -> dict[str, Any] | None:
        cd4, rna = newest.get("cd4"), newest.get("hiv_rna")
        if not self.facts.hiv and cd4 is None and rna is None:
            return None
        out: dict[str, Any] = {"status": "positive" if self.facts.hiv else "unknown"}
        if self.facts.hiv and any(
            d.role == "antiretroviral" and d.status in _CURRENT.get(d.resource.split("/")[0], set())
            for d in self.drugs
        ):
            out["on_art"] = True  # an active ART drug; none recorded: not known (never false)
        if cd4 is not None:
            out["cd4"] = _measurement(cd4)
        if rna is not None:
            if rna.value is not None:  # "not detected" in words carries no number
                out["hiv_rna"] = _measurement(rna)
            out["hiv_rna_suppressed"] = rna.suppressed
        return out

    def _transplant(self) -> dict[str, Any] | None:
        f = self.facts
        if f.hsct and f.organs:
            self._problem(
                "conflict",
                "",
                "transplant",
                "both stem-cell and solid-organ transplant are recorded: state which one this CMV disease follows",
            )
            return None
        if f.hsct:
            return {"kind": "hsct"}
        if f.organs:
            specific = sorted(f.organs - {"organ"})
            return {"kind": "sot", **({"detail": ", ".join(specific)} if specific else {})}
        return None

    def _validate(self, doc: dict[str, Any]) -> Case | None:
        if any(p.kind in ("missing_fact",) for p in self.problems):
            return None
        try:
            return Case.model_validate(doc)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"])
                self._missing(where, f"not a valid case: {error['msg']}")
            return None


def _measurement(r: Reading) -> dict[str, Any]:
    return {"value": r.value, "unit": r.unit, "measured_at": r.at.isoformat()}


def _age(born: date, today: date) -> dict[str, Any] | None:
    """Completed years (months under 2 years) on ``today``; ``None`` if born later."""
    if born > today:
        return None
    months = (today.year - born.year) * 12 + today.month - born.month - (today.day < born.day)
    if months < 24:
        return {"value": months, "unit": "mo"}
    return {"value": months // 12, "unit": "a"}
