"""Stream a synthetic Bulk Data export to disk: NDJSON per resource type, the Bulk Data
``manifest.json`` and ``answer-key.csv`` (one row per planted problem).

Patients with no CMV therapy (most of them) are cheap: a Patient, a few measurements and
diagnoses written from string templates. Patients on therapy copy one of a bounded pool
of profiles (built once through ``cmvrx.api``; see ``profiles.py``). Memory stays flat:
lines are buffered per chunk of patients and written; nothing per patient is kept.
Deterministic: the same seed, size and options give byte-identical files.
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from cmvrx import units
from cmvrx.knowledge.bundle import Knowledge
from cmvrx.synth import resources as fhir
from cmvrx.synth.codes import Codes, Coding
from cmvrx.synth.population import Person, draw_person, parameters, uniform
from cmvrx.synth.profiles import PID, PLANTED_KINDS, Profile, ProfileBuilder

RESOURCE_TYPES = (
    "Patient",
    "Observation",
    "Condition",
    "Procedure",
    "MedicationRequest",
    "MedicationAdministration",
)
ANSWER_KEY = "answer-key.csv"
MANIFEST = "manifest.json"
_CHUNK = 5_000


@dataclass
class CohortSummary:
    """What was written."""

    out: Path
    patients: int
    treated: int
    planted: int  # answer-key rows
    profiles: int
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    transaction_time: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "patients": self.patients,
            "treated": self.treated,
            "planted": self.planted,
            "profiles": self.profiles,
            "counts": dict(self.counts),
            "seconds": round(self.seconds, 3),
            "transaction_time": self.transaction_time,
        }


def transaction_time(text: str | None = None) -> datetime:
    """The export's moment (``as_of`` of an audit of it): ``text`` or the default."""
    value = text or parameters()["export"]["transaction_time"]
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _dealt(i: int, share: float) -> bool:
    """Whether item ``i`` is one of an exact, evenly spread ``share`` of items."""
    return int((i + 1) * share) > int(i * share)


def write_cohort(
    out: Path,
    *,
    patients: int,
    seed: int,
    knowledge: Knowledge,
    treated_share: float = 0.05,
    planted_share: float = 0.4,
    as_of: datetime | None = None,
    pool_max: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> CohortSummary:
    """Write an export of ``patients`` patients into ``out`` (created if needed)."""
    if patients < 0:
        raise ValueError("patients must be ≥ 0")
    if not 0 <= treated_share <= 1 or not 0 <= planted_share <= 1:
        raise ValueError("shares must lie between 0 and 1")
    started = time.perf_counter()
    moment = as_of or transaction_time()
    out.mkdir(parents=True, exist_ok=True)
    n_treated = int(patients * treated_share)
    pool = _Pool(
        ProfileBuilder(knowledge, moment, seed),
        min(n_treated, pool_max or int(parameters()["export"]["pool_max"])),
        planted_share,
    )
    cheap = _Untreated(Codes(knowledge), moment, random.Random(f"cmvrx-synth:{seed}:untreated"))
    counts = dict.fromkeys(RESOURCE_TYPES, 0)
    files = {t: (out / f"{t}.ndjson").open("w", encoding="utf-8") for t in RESOURCE_TYPES}
    treated = planted = 0
    try:
        with (out / ANSWER_KEY).open("w", encoding="utf-8", newline="") as key_file:
            key = csv.writer(key_file, lineterminator="\n")
            key.writerow(["patient_id", "order_id", "kind"])
            buffers: dict[str, list[str]] = {t: [] for t in RESOURCE_TYPES}
            for i in range(patients):
                pid = f"pt{i:07d}"
                if _dealt(i, treated_share) and treated < n_treated:
                    profile = pool.get(treated)
                    treated += 1
                    for kind_name, lines in profile.lines.items():
                        buffers[kind_name] += [line.replace(PID, pid) for line in lines]
                    for order, kind in profile.answers:
                        key.writerow([pid, order.replace(PID, pid), kind])
                        planted += 1
                else:
                    cheap.write(pid, buffers)
                if (i + 1) % _CHUNK == 0:
                    _flush(buffers, files, counts)
                    if progress is not None:
                        progress(i + 1)
            _flush(buffers, files, counts)
    finally:
        for f in files.values():
            f.close()
    for kind, count in counts.items():  # as a Bulk Data server: no file for a type with none
        if count == 0:
            (out / f"{kind}.ndjson").unlink()
    _manifest(out, moment, counts, seed, patients)
    if progress is not None:
        progress(patients)
    return CohortSummary(
        out,
        patients,
        treated,
        planted,
        len(pool.profiles),
        counts,
        time.perf_counter() - started,
        fhir.stamp(moment),
    )


def _flush(
    buffers: dict[str, list[str]], files: Mapping[str, IO[str]], counts: dict[str, int]
) -> None:
    for kind, lines in buffers.items():
        if lines:
            files[kind].write("\n".join(lines) + "\n")
            counts[kind] += len(lines)
            lines.clear()


def _manifest(out: Path, moment: datetime, counts: dict[str, int], seed: int, n: int) -> None:
    manifest = {
        "transactionTime": fhir.stamp(moment),
        "request": f"urn:cmvrx:synth/$export?_type={','.join(RESOURCE_TYPES)}&seed={seed}&patients={n}",
        "requiresAccessToken": False,
        "output": [
            {"type": t, "url": f"{t}.ndjson", "count": counts[t]}
            for t in RESOURCE_TYPES
            if counts[t]
        ],
        "error": [],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


class _Pool:
    """Treated-patient profiles, built on first use; patient ``t`` uses slot ``t % size``."""

    def __init__(self, builder: ProfileBuilder, size: int, planted_share: float) -> None:
        self.builder = builder
        self.size = size
        self.planted_share = planted_share
        self.profiles: list[Profile] = []
        self.planted = 0

    def get(self, t: int) -> Profile:
        slot = t % self.size
        while len(self.profiles) <= slot:
            j = len(self.profiles)
            kind: str | None = None
            variant = 0
            if _dealt(j, self.planted_share):
                kind = PLANTED_KINDS[self.planted % len(PLANTED_KINDS)]
                variant = self.planted // len(PLANTED_KINDS)
                self.planted += 1
            self.profiles.append(self.builder.build(j, kind, variant))
        return self.profiles[slot]


# ---------------------------------------------------------------------- no CMV therapy


def _template(resource: dict[str, Any]) -> str:
    """A ``str.format`` template of ``resource``: ``"@name@"`` string values become
    ``{name}`` (numbers: the quotes go too), every other brace is escaped."""
    text = json.dumps(resource, separators=(",", ":")).replace("{", "{{").replace("}", "}}")
    for token in ("v",):
        text = text.replace(f'"@{token}@"', "{" + token + "}")
    for token in ("pid", "rid", "at", "gender", "birth"):
        text = text.replace(f"@{token}@", "{" + token + "}")
    return text


class _Untreated:
    """Cheap records: demographics, measurements and diagnoses, no CMV therapy."""

    def __init__(self, codes: Codes, as_of: datetime, rng: random.Random) -> None:
        self.as_of = as_of
        self.rng = rng
        self.mix = parameters()["mix"]
        self.stamps = [fhir.stamp(as_of - timedelta(hours=h + 1)) for h in range(3650 * 24)]
        self.patient = _template(fhir.patient("@pid@", "@gender@", "@birth@"))
        self.obs: dict[str, str] = {}
        for analyte in (
            "weight",
            "height",
            "creatinine",
            "anc",
            "platelets",
            "hemoglobin",
            "cd4",
            "hiv_rna",
        ):
            code, unit = codes.observation(analyte)
            self.obs[analyte] = self._obs(code, unit, analyte)
        for code_text in ("38483-4", "14682-9"):  # Synthea's blood creatinine; µmol/L
            code, unit = codes.observation_code(code_text)
            self.obs[code_text] = self._obs(code, unit, "creatinine")
        at = as_of
        self.cond = {
            concept: _template(
                fhir.condition("@rid@", "@pid@", codes.condition(concept, system), at)
            ).replace(fhir.stamp(at), "{at}")
            for concept, system in (
                ("hiv", "snomed"),
                ("hsct", "icd10cm"),
                ("sot.kidney", "icd10cm"),
                ("sot.liver", "icd10cm"),
                ("dialysis_dependence", "icd10cm"),
            )
        }
        hd: Coding = codes.condition("hemodialysis", resource="Procedure")
        self.procedure = _template(fhir.procedure("@rid@", "@pid@", hd, at)).replace(
            fhir.stamp(at), "{at}"
        )

    def _obs(self, code: Coding, unit: str, analyte: str) -> str:
        category = "vital-signs" if analyte in ("weight", "height") else "laboratory"
        r = fhir.observation("@rid@", "@pid@", code, self.as_of, 0.0, unit, category)
        r["effectiveDateTime"] = "@at@"
        r["valueQuantity"]["value"] = "@v@"
        return _template(r)

    def _when(self, days: int) -> str:
        """A time within ``days`` before as_of (whole hours: a table, not strftime)."""
        return self.stamps[self.rng.randrange(days * 24)]

    def write(self, pid: str, buffers: dict[str, list[str]]) -> None:
        rng, mix = self.rng, self.mix
        child = rng.random() < mix["child"]
        person: Person = draw_person(rng, child)
        buffers["Patient"].append(
            self.patient.format(
                pid=pid, gender=person.sex, birth=person.birth_date(self.as_of, rng.randrange(365))
            )
        )
        obs = buffers["Observation"]
        n = 0

        def add(template: str, value: float, days: int = 365) -> None:
            nonlocal n
            n += 1
            obs.append(template.format(pid=pid, rid=f"{pid}-o{n}", at=self._when(days), v=value))

        add(self.obs["weight"], person.weight_kg)
        if rng.random() < mix["height_recorded"]:
            add(self.obs["height"], person.height_cm)
        roll = rng.random()
        if roll < mix["creatinine_serum"]:
            add(self.obs["creatinine"], person.creatinine_mg_dl)
        elif roll < mix["creatinine_serum"] + mix["creatinine_blood"]:
            add(self.obs["38483-4"], person.creatinine_mg_dl)
        elif roll < mix["creatinine_serum"] + mix["creatinine_blood"] + mix["creatinine_umol"]:
            umol = units.from_internal(person.creatinine_mg_dl, "umol/L", "creatinine")
            add(self.obs["14682-9"], round(umol))
        if rng.random() < mix["cbc"]:
            add(self.obs["anc"], round(uniform(rng, "anc_per_ul", 0) / 1000, 2))
            add(self.obs["platelets"], round(uniform(rng, "platelets_per_ul", 0) / 1000))
            add(self.obs["hemoglobin"], uniform(rng, "hemoglobin_g_dl"))
        conditions = buffers["Condition"]
        roll = rng.random()
        for concept, share in (
            ("hiv", mix["hiv"]),
            ("hsct", mix["hsct"]),
            ("sot.kidney", mix["sot"] * 0.6),
            ("sot.liver", mix["sot"] * 0.4),
            ("dialysis_dependence", mix["dialysis"]),
        ):
            if roll < share:
                conditions.append(
                    self.cond[concept].format(rid=f"{pid}-c1", pid=pid, at=self._when(3650))
                )
                if concept == "hiv":
                    add(self.obs["cd4"], uniform(rng, "cd4_per_ul_any", 0), 180)
                    add(self.obs["hiv_rna"], uniform(rng, "hiv_rna_copies_ml_any", 0), 180)
                elif concept == "dialysis_dependence":
                    for s in range(3):
                        buffers["Procedure"].append(
                            self.procedure.format(rid=f"{pid}-pr{s}", pid=pid, at=self._when(14))
                        )
                break
            roll -= share
