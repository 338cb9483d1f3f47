"""FHIR R4 out: a ``Plan`` becomes a Bundle holding a ``RequestGroup`` (and a ``CarePlan``
view) over ``MedicationRequest``s with structured dosage, ``ServiceRequest``s for the
monitoring, ``DetectedIssue``s for the alerts, refusals and doses cmvrx could not give,
and a ``Provenance``.

Every resource carries the rule id and citations (extensions, and a ``note``), and the
knowledge version (``meta.tag``). Ids are UUIDv5 from the case, ``as_of`` and the rule,
so the same plan always gives the same Bundle (the function is pure). Only codes graded
high/medium in terminology.toml are emitted; an UNCONFIRMED code never is.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from cmvrx.knowledge.bundle import Knowledge
from cmvrx.knowledge.terminology import SYSTEM_URI
from cmvrx.model.plan import Alert, DrugDose, MonitoringItem, Plan, Refused

BASE = "https://cmvrx.org/fhir"
EXT_RULE = f"{BASE}/StructureDefinition/rule-id"
EXT_CITATION = f"{BASE}/StructureDefinition/citation"
TAG_KNOWLEDGE = f"{BASE}/CodeSystem/knowledge-version"
_NAMESPACE = uuid.UUID("6f1d1b0e-9a52-5c1e-8a55-0c3c2f1e7d11")
_SEVERITY = {"critical": "high", "warning": "moderate", "info": "low"}
_WORDS = {
    "once daily": (1, 1, "d"),
    "twice daily": (2, 1, "d"),
    "once weekly": (1, 1, "wk"),
    "3 times weekly": (3, 1, "wk"),
    "three times weekly": (3, 1, "wk"),
}
_EVERY_HOURS = re.compile(r"^q(\d+)h$")
_INFUSE = re.compile(r"infuse over (\d+(?:\.\d+)?) min")


def to_bundle(
    plan: Plan, knowledge: Knowledge, *, patient_reference: str | None = None
) -> dict[str, Any]:
    """The plan as a FHIR R4 ``collection`` Bundle (JSON-ready dict)."""
    return _Builder(plan, knowledge, patient_reference).bundle()


class _Builder:
    def __init__(self, plan: Plan, k: Knowledge, patient: str | None) -> None:
        self.plan, self.k = plan, k
        self.subject = {"reference": patient or f"Patient/{plan.case_id}"}
        self.when = plan.provenance.as_of.isoformat()
        self.version = plan.provenance.knowledge_version
        self.entries: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []

    def _id(self, *parts: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, "|".join((self.plan.case_id, self.when, *parts))))

    def _base(self, kind: str, rid: str, rule_id: str, cite: Iterable[str]) -> dict[str, Any]:
        cites = list(cite)
        return {
            "resourceType": kind,
            "id": rid,
            "meta": {
                "tag": [
                    {
                        "system": TAG_KNOWLEDGE,
                        "code": self.version,
                        "display": f"cmvrx knowledge {self.version}",
                    }
                ]
            },
            "extension": [
                {"url": EXT_RULE, "valueString": rule_id},
                *({"url": EXT_CITATION, "valueString": c} for c in cites),
            ],
            "note": [
                {
                    "text": f"cmvrx rule {rule_id}; sources: {', '.join(cites) or 'none'}; knowledge {self.version}. {self.plan.provenance.disclaimer}"
                }
            ],
        }

    def _add(self, resource: dict[str, Any], title: str, description: str) -> None:
        ref = f"urn:uuid:{resource['id']}"
        self.entries.append({"fullUrl": ref, "resource": resource})
        self.actions.append(
            {
                "title": title[:200],
                "description": description or title,
                "resource": {"reference": ref},
            }
        )

    def bundle(self) -> dict[str, Any]:
        p = self.plan
        doses = [*p.regimen.induction]
        if p.regimen.step_down is not None and p.regimen.step_down.dose is not None:
            doses.append(p.regimen.step_down.dose)
        for i, d in enumerate(doses):
            self._dose(d, i)
        for i, d in enumerate(p.maintenance.options):  # later, one of them: intent option
            self._dose(d, i, option=True)
        for i, m in enumerate(p.monitoring):
            self._monitoring(m, i)
        for i, a in enumerate(p.alerts):
            self._alert(a, i)
        for i, r in enumerate(p.refused):
            self._refused(r, i)
        group = self._request_group()
        care_plan = self._care_plan()
        resources = [group, care_plan, *(e["resource"] for e in self.entries)]
        provenance = self._provenance(resources)
        head = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in (group, care_plan)]
        tail = [{"fullUrl": f"urn:uuid:{provenance['id']}", "resource": provenance}]
        return {
            "resourceType": "Bundle",
            "id": self._id("bundle"),
            "meta": {"tag": [{"system": TAG_KNOWLEDGE, "code": self.version}]},
            "type": "collection",
            "timestamp": self.when,
            "entry": [*head, *self.entries, *tail],
        }

    # ---------------------------------------------------------------- resources
    def _dose(self, d: DrugDose, i: int, *, option: bool = False) -> None:
        mg = d.practical_mg if d.practical_mg is not None else d.dose_mg
        key = f"{'option' if option else 'dose'}-{i}"
        if d.status != "dose" or mg is None:
            self._issue(
                key,
                d.rule_id,
                d.cite,
                "moderate" if d.status != "not_recommended" else "high",
                f"{d.drug_name} ({d.phase}): {d.status.replace('_', ' ')}. {d.reason or d.measure or d.note}".strip(),
                f"{d.drug_name}: no dose",
            )
            return
        mr = self._base("MedicationRequest", self._id(key, d.rule_id), d.rule_id, d.cite)
        mr.update(
            {
                "status": "draft",
                "intent": "option" if option else "proposal",
                "medicationCodeableConcept": self._medication(d.drug, d.drug_name),
                "subject": self.subject,
                "authoredOn": self.when,
                "dosageInstruction": [self._dosage(d, mg)],
            }
        )
        self._add(
            mr,
            f"{'Option: ' if option else ''}{d.drug_name} {mg:g} mg {d.interval} ({d.phase})",
            f"{d.schedule_title}; {d.renal_basis}".strip("; "),
        )

    def _medication(self, drug: str, name: str) -> dict[str, Any]:
        t = self.k.terminology
        codings = [
            {
                "system": SYSTEM_URI[m.system],
                "code": m.code,
                **({"display": m.display} if m.display else {}),
            }
            for m in (t.medication if t else ())
            if m.ingredient == drug
            and m.confidence != "UNCONFIRMED"
            and (m.system == "atc" or m.tty == "IN")
        ]
        return {**({"coding": codings} if codings else {}), "text": name}

    def _dosage(self, d: DrugDose, mg: float) -> dict[str, Any]:
        dosage: dict[str, Any] = {
            "text": f"{mg:g} mg {d.route} {d.interval}",
            "timing": self._timing(d),
            "doseAndRate": [
                {
                    "doseQuantity": {
                        "value": mg,
                        "unit": "mg",
                        "system": SYSTEM_URI["ucum"],
                        "code": "mg",
                    }
                }
            ],
        }
        route = self._route(d.route)
        if route:
            dosage["route"] = route
        minutes = self._infusion_minutes(d)
        if minutes:
            dosage["timing"].setdefault("repeat", {}).update(
                {"duration": minutes, "durationUnit": "min"}
            )
            dosage["doseAndRate"][0]["rateQuantity"] = {
                "value": round(mg / minutes, 3),
                "unit": "mg/min",
                "system": SYSTEM_URI["ucum"],
                "code": "mg/min",
            }
        if d.hydration or d.instructions:
            dosage["additionalInstruction"] = [{"text": t} for t in (*d.hydration, *d.instructions)]
        return dosage

    @staticmethod
    def _timing(d: DrugDose) -> dict[str, Any]:
        interval = d.interval.strip().lower()
        every = _EVERY_HOURS.match(interval)
        found = (1, int(every.group(1)), "h") if every else None
        for words, spec in _WORDS.items():
            if found is None and interval.startswith(words):
                found = spec
        if found is None:
            return {"code": {"text": d.interval}}
        frequency, period, unit = found
        return {
            "repeat": {"frequency": frequency, "period": period, "periodUnit": unit},
            "code": {"text": d.interval},
        }

    def _route(self, route: str) -> dict[str, Any] | None:
        key = {"iv": "iv", "oral": "oral"}.get(route.strip().lower())
        t = self.k.terminology
        for r in t.route if t and key else ():
            if r.id == key:
                coding = [{"system": SYSTEM_URI["snomed"], "code": r.code, "display": r.display}]
                return {
                    **({"coding": coding} if r.confidence != "UNCONFIRMED" else {}),
                    "text": r.display,
                }
        return {"text": route} if route else None

    def _infusion_minutes(self, d: DrugDose) -> float | None:
        for line in d.infusion:
            found = _INFUSE.search(line)
            if found:
                return float(found.group(1))
        if d.route.strip().lower() != "iv":
            return None
        drug = self.k.drugs.get(d.drug)
        return drug.administration.infusion_minutes_default if drug else None

    def _monitoring(self, m: MonitoringItem, i: int) -> None:
        sr = self._base("ServiceRequest", self._id("mon", str(i), m.rule_id), m.rule_id, m.cite)
        sr.update(
            {
                "status": "draft",
                "intent": "proposal",
                "code": {"text": m.test},
                "subject": self.subject,
                "authoredOn": self.when,
            }
        )
        timing: dict[str, Any] = {"code": {"text": m.frequency}}
        if m.every_days:
            timing["repeat"] = {"frequency": 1, "period": m.every_days, "periodUnit": "d"}
        sr["occurrenceTiming"] = timing
        sr["note"].append({"text": f"{m.frequency} (phase: {m.phase}; grade {m.grade})"})
        self._add(sr, m.test, m.frequency)

    def _alert(self, a: Alert, i: int) -> None:
        self._issue(f"alert-{i}", a.rule_id, a.cite, _SEVERITY[a.severity], a.message, a.rule_id)

    def _refused(self, r: Refused, i: int) -> None:
        self._issue(
            f"refused-{i}",
            r.rule_id,
            r.cite,
            "high",
            f"{r.drug}: {r.reason} {r.instead}".strip(),
            f"{r.drug}: not recommended",
        )

    def _issue(
        self, key: str, rule_id: str, cite: Iterable[str], severity: str, detail: str, title: str
    ) -> None:
        di = self._base("DetectedIssue", self._id(key, rule_id), rule_id, cite)
        di.pop("note")  # DetectedIssue has no note: the rule and sources go in the detail
        cites = ", ".join(cite)
        di.update(
            {
                "status": "preliminary",
                "severity": severity,
                "code": {"text": rule_id},
                "patient": self.subject,
                "identifiedDateTime": self.when,
                "detail": f"{detail} [rule {rule_id}; sources: {cites or 'none'}; knowledge {self.version}]",
            }
        )
        self._add(di, title, detail)

    def _request_group(self) -> dict[str, Any]:
        r = self.plan.regimen
        group = self._base("RequestGroup", self._id("group"), r.rule_id, r.cite)
        group.update(
            {
                "status": "draft",
                "intent": "proposal",
                "subject": self.subject,
                "authoredOn": self.when,
            }
        )
        if self.actions:
            group["action"] = self.actions
        group["note"].append({"text": f"{r.title}. {r.rationale} Duration: {r.duration}".strip()})
        return group

    def _care_plan(self) -> dict[str, Any]:
        r = self.plan.regimen
        cp = self._base("CarePlan", self._id("careplan"), r.rule_id, r.cite)
        cp.update(
            {
                "status": "draft",
                "intent": "proposal",
                "title": r.title[:200] or "CMV treatment plan",
                "description": f"{r.title}. {r.rationale}".strip(". ") + ".",
                "subject": self.subject,
                "created": self.when,
            }
        )
        activity: list[dict[str, Any]] = []
        issues: list[dict[str, Any]] = []
        for entry in self.entries:
            ref = {"reference": entry["fullUrl"]}
            if entry["resource"]["resourceType"] == "DetectedIssue":
                issues.append(ref)
            else:
                activity.append({"reference": ref})
        if activity:
            cp["activity"] = activity
        if issues:
            cp["supportingInfo"] = issues
        return cp

    def _provenance(self, resources: list[dict[str, Any]]) -> dict[str, Any]:
        pv = self.plan.provenance
        return {
            "resourceType": "Provenance",
            "id": self._id("provenance"),
            "meta": {"tag": [{"system": TAG_KNOWLEDGE, "code": self.version}]},
            "target": [{"reference": f"urn:uuid:{r['id']}"} for r in resources],
            "recorded": self.when,
            "policy": [f"{BASE}/knowledge/{pv.knowledge_version}#{pv.knowledge_hash}"],
            "reason": [{"text": pv.disclaimer}],
            "agent": [
                {
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                "code": "assembler",
                            }
                        ]
                    },
                    "who": {
                        "display": f"cmvrx {pv.cmvrx_version}, knowledge {pv.knowledge_version} ({pv.knowledge_hash})"
                    },
                }
            ],
        }
