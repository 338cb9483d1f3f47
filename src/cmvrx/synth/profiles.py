"""Patients on CMV therapy: a course (orders, doses given, weeks of labs and CMV PCRs)
whose correct orders are the label's own — the plan cmvrx makes for the patient's record
as the FHIR mapping reads it (``cmvrx.api``) — or one deliberately wrong order (a
planted problem, derived from the correct dose: ×2, ×½, the interval of another renal
band, a drug the label or guideline refuses, a count below the label's threshold, a
stale creatinine, an overdue PCR).

A profile is built once and written for many patients: its lines hold ``__PID__`` where
the patient id goes. Its ``answers`` are the planted problems ``(order id, kind)``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from cmvrx import api
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.model.dosage import Dosage, Interval, from_drug_dose
from cmvrx.synth import resources as fhir
from cmvrx.synth.codes import Codes
from cmvrx.synth.population import Person, draw_person, parameters, uniform, weighted

PID = "__PID__"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
#: The planted kinds (the audit's kind vocabulary), in the order they are dealt out.
PLANTED_KINDS: tuple[str, ...] = (
    "dose_too_high",
    "dose_too_low",
    "wrong_interval",
    "not_recommended",
    "cytopenia_hold",
    "insufficient_data",
    "test_overdue",
    "refractory_no_genotype",
    "premature_stop",
)
#: Planted dose errors, from the correct dose: double, and 60 % (not a half: a half of an
#: induction dose is a label maintenance or lower-band dose, which is not an error).
HIGH_FACTOR = 2.0
LOW_FACTOR = 0.6
NOT_RECOMMENDED_VARIANTS = (
    "letermovir_treatment",
    "valganciclovir_hemodialysis",
    "cidofovir_cns",
    "maribavir_with_ganciclovir",
    "foscarnet_renal_floor",
)
_CNS = frozenset({"encephalitis", "myelitis"})
_ALL = frozenset({"foscarnet"})  # planning: every lab a regimen may need
_GROUP = {"hiv": "hiv", "hsct": "hsct", "sot_kidney": "sot", "sot_liver": "sot", "sot_lung": "sot"}
_TRANSPLANT = {
    "hsct": ("hsct", "icd10cm"),
    "sot_kidney": ("sot.kidney", "icd10cm"),
    "sot_liver": ("sot.liver", "icd10cm"),
    "sot_lung": ("sot.lung", "icd10cm"),
}


_Planted = tuple[list["Order"], list[tuple[str, str]]]


class NoProfileError(Exception):
    """This draw cannot carry the scenario; the builder draws again."""


@dataclass
class Profile:
    """One treated patient's resources (by type, JSON lines with ``__PID__``) and the
    problems planted in them."""

    lines: dict[str, list[str]]
    answers: list[tuple[str, str]]  # (order id with __PID__ or "", kind)
    kind: str | None
    scenario: str


@dataclass
class _Draft:
    """A profile being assembled."""

    rng: random.Random
    person: Person
    population: str
    site: str
    dialysis: bool
    days: int  # days on therapy at as_of
    anc_latest: float | None = None  # planted cytopenia
    creatinine_until: datetime | None = None  # planted stale creatinine
    pcr_until: datetime | None = None  # planted overdue PCR
    pcr_rise: bool = False  # planted refractory course
    resources: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0

    def rid(self, prefix: str) -> str:
        self.counter += 1
        return f"{PID}-{prefix}{self.counter}"


@dataclass
class Order:
    dosage: Dosage
    rid: str
    end: datetime | None = None  # a stopped order: when it ended


class ProfileBuilder:
    """Builds profiles for one knowledge and one ``as_of`` (the export's transactionTime)."""

    def __init__(self, knowledge: Knowledge, as_of: datetime, seed: int) -> None:
        self.k = knowledge
        self.as_of = as_of
        self.seed = seed
        self.codes = Codes(knowledge)
        self.p = parameters()
        self.lloq = float(self.p["export"]["pcr_lower_limit_iu_ml"])
        self.pcr_every = self._every("MON-CMV-PCR-WEEKLY")

    def _every(self, monitoring_id: str) -> float:
        item = next(m for m in self.k.monitoring if m.id == monitoring_id)
        if item.every_days is None:  # pragma: no cover - the knowledge gives it
            raise ValueError(f"{monitoring_id} has no every_days")
        return item.every_days

    # ------------------------------------------------------------------ public
    def build(self, index: int, kind: str | None, variant: int = 0) -> Profile:
        """The profile of pool slot ``index`` carrying ``kind`` (None: every order
        correct); ``variant`` picks the not_recommended scenario."""
        for attempt in range(60):
            rng = random.Random(f"cmvrx-synth:{self.seed}:{index}:{attempt}")
            try:
                return self._build(rng, kind, variant)
            except NoProfileError:
                continue
        raise RuntimeError(f"no profile for slot {index} with {kind!r} after 60 draws")

    # ------------------------------------------------------------------ scenario
    def _draft(self, rng: random.Random, kind: str | None, variant: str) -> _Draft:
        t = self.p["treated"]
        population = weighted(rng, t["population"])
        child = rng.random() < t["child_share"] and population in ("hiv", "hsct")
        dialysis = not child and rng.random() < t["dialysis_share"]
        impaired = not child and not dialysis and rng.random() < t["impaired_share"]
        if kind == "wrong_interval":
            child, dialysis, impaired = False, False, True
        if kind == "not_recommended":
            dialysis = variant == "valganciclovir_hemodialysis"
            child = child and not dialysis
        if kind in ("insufficient_data", "cytopenia_hold", "dose_too_high", "dose_too_low"):
            dialysis = False
        person = draw_person(rng, child, impaired)
        if dialysis:
            low, high = t["dialysis_creatinine_mg_dl"]
            person = replace(person, creatinine_mg_dl=round(rng.uniform(low, high), 2))
        site = weighted(rng, t["sites"][_GROUP[population]])
        if kind == "not_recommended" and variant == "foscarnet_renal_floor":
            child = False  # adult kidneys failing (no dialysis): below foscarnet's floor
            low, high = t["renal_floor_creatinine_mg_dl"]
            person = draw_person(rng, False)
            person = replace(person, creatinine_mg_dl=round(rng.uniform(low, high), 2))
        if kind == "not_recommended" and variant in ("cidofovir_cns", "foscarnet_renal_floor"):
            site = "encephalitis"
        elif kind not in (None, "dose_too_high", "dose_too_low") and site in _CNS:
            site = "colitis" if population != "hsct" else "pneumonitis"
        if kind == "not_recommended" and variant == "letermovir_treatment":
            population = "hsct"
            site = "pneumonitis"
        days = rng.randint(3, 12)
        if kind == "test_overdue":
            days = rng.randint(int(self.pcr_every) + 3, 13)
        if kind == "premature_stop":
            days = rng.randint(6, 10)
        if kind == "refractory_no_genotype":
            least = int(self.k.number("refractory_min_days")) + 1
            days = rng.randint(least, least + 6)
        return _Draft(rng, person, population, site, dialysis, days)

    def _build(self, rng: random.Random, kind: str | None, which: int) -> Profile:
        variant = NOT_RECOMMENDED_VARIANTS[which % len(NOT_RECOMMENDED_VARIANTS)]
        d = self._draft(rng, kind, variant)
        start = self.as_of - d.days * DAY
        self._record(d, start)
        doses = self._plan(d)
        if kind == "cytopenia_hold":
            if any(x.drug not in ("ganciclovir", "valganciclovir") for x in doses):
                raise NoProfileError
            d.anc_latest = self.k.number("ganciclovir_min_anc") * rng.uniform(0.4, 0.8)
        if kind == "insufficient_data":
            if [x.drug for x in doses] != ["ganciclovir"]:
                raise NoProfileError
            stale = self.k.number("creatinine_max_age_hours") + rng.randint(12, 36)
            d.creatinine_until = self.as_of - stale * HOUR
        if kind == "test_overdue":
            d.pcr_until = start
        d.pcr_rise = kind == "refractory_no_genotype"
        orders, answers = self._orders(d, doses, kind, variant)
        self._course(d, start, orders)
        lines: dict[str, list[str]] = {}
        for r in d.resources:
            lines.setdefault(r["resourceType"], []).append(json.dumps(r, separators=(",", ":")))
        scenario = f"{d.population}/{d.site}" + ("/dialysis" if d.dialysis else "")
        return Profile(
            lines, answers, kind, scenario + (f"/{variant}" if kind == "not_recommended" else "")
        )

    # ------------------------------------------------------------------ the record
    def _record(self, d: _Draft, start: datetime) -> None:
        """Patient, diagnoses and the baseline measurements (the day before therapy)."""
        c = self.codes
        base = start - DAY
        d.resources.append(
            fhir.patient(PID, d.person.sex, d.person.birth_date(self.as_of, d.rng.randrange(365)))
        )
        d.resources.append(fhir.condition(d.rid("c"), PID, c.condition(f"site.{d.site}"), base))
        if d.population == "hiv":
            d.resources.append(
                fhir.condition(d.rid("c"), PID, c.condition("hiv"), base - 400 * DAY)
            )
            self._obs(d, "cd4", base, uniform(d.rng, "cd4_per_ul_active", 0), "laboratory")
            self._obs(d, "hiv_rna", base, uniform(d.rng, "hiv_rna_copies_ml", 0), "laboratory")
        else:
            concept, system = _TRANSPLANT[d.population]
            d.resources.append(
                fhir.condition(d.rid("c"), PID, c.condition(concept, system), base - 90 * DAY)
            )
        if d.dialysis:
            d.resources.append(
                fhir.condition(
                    d.rid("c"), PID, c.condition("dialysis_dependence", "icd10cm"), base - 300 * DAY
                )
            )
            hd = c.condition("hemodialysis", resource="Procedure")
            d.resources.append(fhir.condition(d.rid("c"), PID, hd, base - 300 * DAY))
            at = base
            while at < self.as_of:
                d.resources.append(fhir.procedure(d.rid("pr"), PID, hd, at))
                at += timedelta(hours=56)
        self._obs(d, "weight", base, d.person.weight_kg, "vital-signs")
        self._obs(d, "height", base, d.person.height_cm, "vital-signs")
        self._labs(d, base, drugs=frozenset())

    def _obs(self, d: _Draft, analyte: str, at: datetime, value: float, category: str) -> None:
        code, unit = self.codes.observation(analyte)
        d.resources.append(fhir.observation(d.rid("ob"), PID, code, at, value, unit, category))

    def _labs(
        self, d: _Draft, at: datetime, *, anc: float | None = None, drugs: frozenset[str] = _ALL
    ) -> None:
        """Creatinine and a CBC (counts in 10*3/uL, the unit the binding lists first), the
        electrolytes foscarnet needs, the urine protein cidofovir needs."""
        rng = d.rng
        if d.creatinine_until is None or at <= d.creatinine_until:
            self._obs(d, "creatinine", at, d.person.creatinine_mg_dl, "laboratory")
        count = uniform(rng, "anc_per_ul", 0) if anc is None else anc
        self._obs(d, "anc", at, round(count / 1000, 2), "laboratory")
        self._obs(
            d, "platelets", at, round(uniform(rng, "platelets_per_ul", 0) / 1000), "laboratory"
        )
        self._obs(d, "hemoglobin", at, uniform(rng, "hemoglobin_g_dl"), "laboratory")
        if "foscarnet" in drugs:
            for analyte, key in (
                ("potassium", "potassium_mmol_l"),
                ("magnesium", "magnesium_mg_dl"),
                ("calcium", "calcium_mg_dl"),
                ("phosphate", "phosphate_mg_dl"),
            ):
                self._obs(d, analyte, at, uniform(rng, key), "laboratory")
        if "cidofovir" in drugs:
            code, _ = self.codes.observation("urine_protein_dipstick")
            r = fhir.observation(d.rid("ob"), PID, code, at, 0.0, "", "laboratory")
            del r["valueQuantity"]
            r["valueString"] = "negative"
            d.resources.append(r)

    # ------------------------------------------------------------------ the plan
    def _plan(self, d: _Draft) -> list[Dosage]:
        """The induction doses cmvrx plans for the record as the FHIR mapping reads it."""
        from cmvrx.fhir import inbound

        fresh = _Draft(random.Random(0), d.person, d.population, d.site, d.dialysis, d.days)
        fresh.counter = 10_000
        self._labs(fresh, self.as_of - 6 * HOUR)  # as today's labs will be
        result = inbound.read(
            [_unplaceholder(r) for r in (*d.resources, *fresh.resources)],
            as_of=self.as_of,
            knowledge=self.k,
            no_dialysis_unless_recorded=True,
        )
        if result.case is None:
            raise NoProfileError
        plan = api.plan(result.case, as_of=self.as_of, knowledge=self.k)
        doses = [from_drug_dose(x) for x in plan.regimen.induction]
        if not doses or any(x is None for x in doses):
            raise NoProfileError
        return [x for x in doses if x is not None]

    def _quick(self, d: _Draft, drug: str, phase: str, **extra: Any) -> Dosage:
        """A label dose from ``api.dose`` (for drugs the plan does not choose)."""
        p = d.person
        dose = api.dose(
            drug,
            phase=phase,
            as_of=self.as_of,
            weight_kg=p.weight_kg,
            age_years=p.age_years,
            sex=p.sex,
            creatinine=p.creatinine_mg_dl,
            height_cm=p.height_cm,
            knowledge=self.k,
            **extra,
        )
        dosage = from_drug_dose(dose)
        if dosage is None:
            raise NoProfileError
        return dosage

    # ------------------------------------------------------------------ orders
    def _orders(self, d: _Draft, doses: list[Dosage], kind: str | None, variant: str) -> _Planted:
        orders = [Order(x, d.rid("mr")) for x in doses]
        if kind == "premature_stop":
            # induction stopped after a few days, far from its minimum duration, the
            # virus still detected
            end = self.as_of - d.rng.randint(1, 2) * DAY
            return [Order(o.dosage, o.rid, end) for o in orders], [("", kind)]
        if kind is None or kind in (
            "cytopenia_hold",
            "insufficient_data",
            "test_overdue",
            "refractory_no_genotype",
        ):
            target = orders[0].rid if kind in ("cytopenia_hold", "insufficient_data") else ""
            return orders, ([(target, kind)] if kind else [])
        if kind == "dose_too_high":
            return self._scaled(orders, d.rng.randrange(len(orders)), HIGH_FACTOR, kind)
        if kind == "dose_too_low":
            which = d.rng.randrange(len(orders))
            self._distinct_phases(d, orders[which].dosage)
            return self._scaled(orders, which, LOW_FACTOR, kind)
        if kind == "wrong_interval":
            return self._wrong_interval(orders)
        return self._not_recommended(d, orders, variant)

    def _distinct_phases(self, d: _Draft, induction: Dosage) -> None:
        """An order states no phase: a low induction dose is only unambiguous where the
        label's maintenance interval differs (else it reads as a maintenance dose)."""
        maintenance = self._quick(d, induction.drug, "maintenance")
        if maintenance.interval == induction.interval:
            raise NoProfileError

    @staticmethod
    def _scaled(orders: list[Order], which: int, factor: float, kind: str) -> _Planted:
        """Order ``which``'s amount × ``factor`` (written in mg, as a prescriber would)."""
        target = orders[which]
        mg = target.dosage.per_dose_mg
        if mg is None or target.dosage.amount_mg_per_kg is None:
            raise NoProfileError  # weight-based drugs only: the arithmetic error of a mg/kg dose
        wrong = replace(
            target.dosage, amount_mg=round(mg * factor), amount_mg_per_kg=None, weight_kg=None
        )
        changed = [Order(wrong, o.rid) if o is target else o for o in orders]
        return changed, [(target.rid, kind)]

    @staticmethod
    def _wrong_interval(orders: list[Order]) -> _Planted:
        """The dose of today's renal band at the interval of the band above (ordered before
        the kidneys worsened): same amount, twice as often."""
        first = orders[0]
        hours = first.dosage.interval.hours
        if len(orders) != 1 or first.dosage.drug != "ganciclovir" or hours is None or hours < 24:
            raise NoProfileError
        wrong = replace(first.dosage, interval=Interval.every(hours / 2))
        return [Order(wrong, first.rid)], [(first.rid, "wrong_interval")]

    def _not_recommended(self, d: _Draft, orders: list[Order], variant: str) -> _Planted:
        if variant == "letermovir_treatment":
            wrong = self._quick(d, "letermovir", "prophylaxis")
            rid = orders[0].rid
            return [Order(wrong, rid)], [(rid, "not_recommended")]
        if variant == "valganciclovir_hemodialysis":
            if not d.dialysis:
                raise NoProfileError
            normal = replace(d.person, creatinine_mg_dl=self.p["adult"]["creatinine_mg_dl_median"])
            wrong = self._quick(replace(d, person=normal), "valganciclovir", "induction")
            rid = orders[0].rid
            return [Order(wrong, rid)], [(rid, "not_recommended")]
        if variant == "cidofovir_cns":
            if d.site not in _CNS:
                raise NoProfileError
            wrong = self._quick(d, "cidofovir", "induction", urine_dipstick="negative")
            rid = orders[0].rid
            return [Order(wrong, rid)], [(rid, "not_recommended")]
        if variant == "foscarnet_renal_floor":
            # CNS disease, kidneys now below foscarnet's floor: the plan gives ganciclovir
            # alone; the foscarnet of the combination (dosed as for normal kidneys) is added
            if any(o.dosage.drug == "foscarnet" for o in orders):
                raise NoProfileError
            normal = replace(d.person, creatinine_mg_dl=self.p["adult"]["creatinine_mg_dl_median"])
            wrong = self._quick(replace(d, person=normal), "foscarnet", "induction")
            rid = d.rid("mr")
            return [*orders, Order(wrong, rid)], [(rid, "not_recommended")]
        # maribavir with ganciclovir: the ganciclovir order stays right
        if [o.dosage.drug for o in orders] != ["ganciclovir"]:
            raise NoProfileError
        wrong = self._quick(d, "maribavir", "refractory_treatment")
        rid = d.rid("mr")
        # the combination is the problem: the maribavir order is refused, and the
        # ganciclovir order now runs beside a drug that antagonises it
        answers = [(rid, "not_recommended"), (orders[0].rid, "interaction")]
        return [*orders, Order(wrong, rid)], answers

    # ------------------------------------------------------------------ the course
    def _course(self, d: _Draft, start: datetime, orders: list[Order]) -> None:
        c = self.codes
        for o in orders:
            x = o.dosage
            drug = c.drug(x.drug)
            mg = x.per_dose_mg
            if mg is None:  # pragma: no cover - orders carry an amount
                raise NoProfileError
            if x.interval.hours is not None:
                timing: dict[str, Any] = {
                    "repeat": {"frequency": 1, "period": x.interval.hours, "periodUnit": "h"}
                }
                step = x.interval.hours
            else:
                timing = {"code": {"text": x.interval.schedule}}
                step = 168 / x.interval.per_week
            d.resources.append(
                fhir.medication_request(
                    o.rid,
                    PID,
                    drug,
                    c.route(x.route),
                    (round(mg, 1), "mg"),
                    timing,
                    start,
                    status="active" if o.end is None else "stopped",
                    end=o.end,
                )
            )
            at = start
            while at < (o.end or self.as_of - HOUR):
                if x.drug == "cidofovir":  # the label's labs before each dose
                    self._labs(d, at - 12 * HOUR, drugs=frozenset({"cidofovir"}))
                d.resources.append(
                    fhir.administration(d.rid("ma"), PID, o.rid, drug, at, round(mg, 1))
                )
                at += step * HOUR
        drugs = frozenset(o.dosage.drug for o in orders)
        last = self.as_of - 6 * HOUR
        # a planted cytopenia: counts drifting low through the course, below the label's
        # threshold today (never a jump the course would hold for confirmation)
        drifting = None if d.anc_latest is None else d.anc_latest * 4
        at = start + DAY
        while at < last - DAY:
            self._labs(d, at, anc=drifting, drugs=drugs)
            at += 2 * DAY
        self._labs(d, last, anc=d.anc_latest, drugs=drugs)
        self._pcrs(d, start)

    def _pcrs(self, d: _Draft, start: datetime) -> None:
        code, unit = self.codes.observation("cmv_dna", specimen="plasma")
        log0 = uniform(d.rng, "pcr_log10_baseline", 2)
        fall = uniform(d.rng, "pcr_log10_fall_per_week", 2)
        if d.pcr_rise:  # the whole rise spread over the course, as a weekly slope
            fall = -uniform(d.rng, "pcr_log10_rise_refractory", 2) / (d.days / 7)
        times = []
        at = start - DAY
        while at < self.as_of and (d.pcr_until is None or at <= d.pcr_until):
            times.append(at)
            at += self.pcr_every * DAY
        recent = (self.as_of - times[-1]) <= self.pcr_every / 2 * DAY
        if d.pcr_until is None and (d.pcr_rise or not recent):
            times.append(self.as_of - 18 * HOUR)
        for at in times:
            weeks = (at - (start - DAY)) / (7 * DAY)
            value = 10 ** (log0 - fall * weeks)
            shown = None if value < self.lloq else round(value)
            d.resources.append(fhir.cmv_pcr(d.rid("pcr"), PID, code, unit, at, shown, self.lloq))


def _unplaceholder(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource with a concrete patient id (the mapping reads ids)."""
    text = json.dumps(resource).replace(PID, "synth-profile")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
