"""Clinical vignettes as data: every ``tests/cases/*.yaml`` is one patient and the plan facts
a clinician expects for it, computed by hand from the label tables (clinical-reference.md).

A vignette file has four keys besides ``as_of``:

- ``description``: one clinical line;
- ``covers``: the guideline statements it exercises (entries of ``CHECKLIST`` below, plus
  free text if wanted);
- ``case``: a full case in the documented format (``cmvrx.model.patient.Case``);
- ``expect``: the plan facts to check. Only the keys given are checked.

The ``expect`` vocabulary (small on purpose):

``error: {type, field}``
    ``cmvrx.plan`` must raise exactly this ``InputError`` subclass naming this field; no
    plan (so no dose) may be produced. Nothing else may be given with ``error``.
``regimen_rule``, ``regimen_id``
    The regimen rule id that fired and the regimen it chose (``null``: no regimen).
``duration_days: [min, max]``
    Induction duration bounds.
``induction: [{drug, status, dose_per_kg, interval, dose_mg, practical_mg, band,
reason_contains, infusion_contains: [...], hydration_contains: [...]}]``
    The induction drugs, exactly this set; per drug only the keys given are checked.
``step_down``: ``null`` or ``{eligible, drug, after_improvement_days, status, dose_mg, interval,
why_not_contains}``
``refused`` / ``not_refused``: drug ids that must / must not be refused.
``refused_rules``: refusal rule ids that must be present.
``refusal_mentions: {rule_id: substring}``: the refusal's reason or instead text.
``alerts`` / ``no_alerts``: alert rule ids present / absent.
``alert_mentions: {rule_id: substring}``: substring of the rendered message.
``monitoring`` / ``no_monitoring``: monitoring item ids present / absent.
``maintenance: {drug: status or {status, dose_per_kg, interval, dose_mg, ...}}``
    Maintenance options that must be offered, with their status or dose facts.
``maintenance_absent``: drugs that must not be maintenance options.
``maintenance_criteria: {criterion_id: substring or null}``: stop/restart/lifelong/end-of-
    induction criteria present (with text).
``renal: {crcl_ml_min, crcl_per_kg, egfr, weight_kg, obese, insufficient_contains}``
``not_confirmed_includes``: ids in the plan's NOT CONFIRMED list.
``maintenance_criteria_absent``: criterion ids that must not be shown (they do not apply).
``duration_contains`` / ``duration_excludes``: substrings of the regimen's duration text.
``text_present`` / ``text_absent``: substrings that must / must not appear in any text
    of the plan (every string value of its JSON, joined).
``no_dose: true``: no drug anywhere in the plan (induction, step-down, maintenance) has
    status ``dose``.
Dose specs also take ``rounding_contains``, ``instructions_absent: [...]`` and
``hydration_absent: [...]``.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

import cmvrx
from cmvrx.errors import InputError

CASES_DIR = Path(__file__).parent / "cases"
VIGNETTES = sorted(CASES_DIR.glob("*.yaml"))

# Every statement of the seed guideline (and the safety behaviours the brief adds).
# The union of the vignettes' ``covers`` must include each entry.
CHECKLIST: tuple[str, ...] = (
    # CNS disease
    "seed: CNS encephalitis → GCV 5 mg/kg q12h + FOS 60 mg/kg q8h × 3 weeks, then maintenance",
    "seed: CNS myelitis → GCV + FOS combination",
    "seed: CNS ventriculitis → GCV + FOS combination",
    "seed: CNS polyradiculopathy → GCV + FOS combination",
    "seed: FOS 90 mg/kg q12h as the alternative to 60 mg/kg q8h",
    "seed: combination because CSF levels are hard to reach; resistance can emerge on combination",
    "seed: CNS with one agent unusable → the other alone, specialist review",
    "seed: CNS with neither agent usable → no regimen, specialist review",
    # Severe non-CNS disease
    "seed: non-CNS retinitis → IV GCV 5 mg/kg q12h 2–3 weeks",
    "seed: non-CNS colitis → IV GCV",
    "seed: non-CNS esophagitis → IV GCV",
    "seed: non-CNS pneumonitis → IV GCV",
    "seed: non-CNS hepatitis → IV GCV",
    "seed: non-CNS CMV syndrome → IV GCV",
    "seed: VGC 900 mg bid step-down after 3–5 days of improvement",
    "seed: VGC step-down is renally adjusted",
    "seed: no VGC step-down without oral absorption",
    "seed: no VGC step-down on hemodialysis",
    "seed: no oral step-down for CNS disease",
    # Ganciclovir unusable → foscarnet
    "seed: GCV unusable ANC < 500 → FOS 60 mg/kg q8h",
    "seed: GCV unusable platelets < 25,000 → FOS",
    "seed: GCV unusable Hb < 8 → FOS",
    "seed: GCV intolerance → FOS",
    "seed: GCV UL97 resistance → FOS",
    # Cidofovir, letermovir, maribavir
    "seed: cidofovir third line when SCr ≤ 1.5, CrCl > 55, urine protein < 100 mg/dL",
    "seed: cidofovir ineligible SCr > 1.5",
    "seed: cidofovir ineligible CrCl ≤ 55",
    "seed: cidofovir ineligible urine protein ≥ 100 mg/dL / ≥ 2+",
    "seed: cidofovir never for CNS",
    "seed: letermovir refused for treatment",
    "seed: letermovir 240 mg with cyclosporine is prophylaxis only",
    "seed: letermovir exposure alert",
    "ref: maribavir for refractory post-transplant non-CNS, ≥ 12 y and ≥ 35 kg",
    "ref: maribavir refused when not refractory or not post-transplant",
    "ref: maribavir refused < 12 y or < 35 kg",
    "ref: maribavir refused for CNS",
    # Immunosuppression, monitoring, administration
    "seed: reduce or stop immunosuppression",
    "seed: monitor renal function with FOS",
    "seed: monitor renal function with CDV",
    "seed: monitor CBC with GCV; G-CSF for marrow suppression",
    "seed: monitor electrolytes with FOS",
    "seed: weekly CMV PCR; continue until not detected",
    "ref: ophthalmology for retinitis",
    "seed: FOS infusion ≤ 1 mg/kg/min over 2 h with saline loading",
    "ref: GCV and FOS never mixed in one line",
    # Maintenance
    "seed: maintenance options VGC, IV GCV, IV FOS",
    "seed: HIV maintenance stop at CD4 > 100–150 with suppressed HIV RNA 3–6 months",
    "ref: HIV maintenance restart when CD4 falls",
    "seed: HIV CD4 < 50 → lifelong maintenance",
    "seed: maintenance until immune function recovers (non-HIV)",
    # Pitfalls
    "pitfall: GCV renal dose reduction mandatory",
    "pitfall: VGC renal dose reduction mandatory",
    "pitfall: FOS renal dose reduction (per-kg table)",
    "pitfall: VGC refused on hemodialysis → IV GCV hemodialysis dose",
    "pitfall: premature discontinuation",
    "pitfall: letermovir resistance",
    "pitfall: GCV resistance with long-term therapy",
    # Special populations
    "pediatric: GCV 5 mg/kg q12h first line",
    "pediatric: FOS 60 mg/kg q8h for GCV-resistant disease",
    "pediatric: infant with low birth weight",
    "pediatric: eGFR < 70 → no automatic dose",
    "seed: HIV-infected infant with CNS disease → GCV + FOS with HAART",
    "seed: HIV-infected adult with CNS disease",
    "ref: HIV not on ART → start ART",
    "special: pregnancy",
    "special: obesity flag",
    # Renal replacement and data quality
    "renal: CRRT → no label dose",
    "renal: peritoneal dialysis → no label dose",
    "renal: intermittent hemodialysis",
    "data: stale creatinine → insufficient data",
    "data: missing CBC → insufficient data for GCV",
    "data: missing creatinine → insufficient data, measure creatinine",
    # Bad input
    "input: negative weight",
    "input: zero weight",
    "input: creatinine 0",
    "input: age 250",
    "input: unknown unit",
    "input: hemodialysis with measured CrCl 90",
    "input: naive timestamp",
    # issue 7: monitoring, resistance and text that fits the patient
    "ref: foscarnet monitoring when offered for maintenance (clinical-reference §3.6)",
    "ref: UL97 alone leaves foscarnet and cidofovir active; UL54 per the report",
    "ref: each text item shown only when it applies to the patient",
    "ref: pregnancy test only for people who can become pregnant (configurable age bounds)",
    "ref: HIV GI disease 21–42 days or until symptoms resolve (S-HIV-DRLEX-GI)",
    "ref: refractory disease — check dosing, send genotype, foscarnet/maribavir while pending (§8)",
    "ref: CNS disease — repeat CSF CMV PCR before ending induction (S-HIV-EACS)",
    # Clinical review, issue 7 (children, dose in prose, rounding, hydration, dialysis)
    "input: adult weight basis for a child",
    "pediatric: no adult hydration volume (specialist / pharmacy to set)",
    "pediatric: no ideal body weight or obesity flag",
    "rounding: within the tolerance of the exact dose",
    "hydration: dose between label bands → band above, NOT CONFIRMED",
    "renal: no estimated clearance on hemodialysis",
    "pediatric: congenital CMV with CNS involvement → GCV 6 mg/kg q12h × 6 weeks",
    "pediatric: congenital CMV without a graded regimen → specialist review",
    "data: infant without congenital status → insufficient data",
    "pediatric: HIV child under 6 → no adult CD4 rules, specialist review",
)

_ERRORS = {
    cls.__name__: cls
    for cls in (
        cmvrx.InputError,
        cmvrx.errors.ImplausibleValueError,
        cmvrx.errors.UnitError,
        cmvrx.errors.ContradictoryInputError,
        cmvrx.errors.InsufficientDataError,
    )
}


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


def _as_of(v: dict[str, Any]) -> datetime:
    raw = v["as_of"]
    value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    assert value.tzinfo is not None, "as_of must carry a time zone"
    return value


def _close(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return actual == expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(actual, expected, rel_tol=2e-3, abs_tol=1e-3)
    return actual == expected


class Mismatch:
    """Collects every differing fact of one vignette, so one run shows them all."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[str] = []

    def check(self, what: str, actual: Any, expected: Any) -> None:
        if not _close(actual, expected):
            self.problems.append(f"{what}: expected {expected!r}, got {actual!r}")

    def require(self, ok: bool, message: str) -> None:
        if not ok:
            self.problems.append(message)

    def report(self) -> None:
        if self.problems:
            lines = "\n  - ".join(self.problems)
            pytest.fail(f"vignette {self.name}: {len(self.problems)} fact(s) differ\n  - {lines}")


_DOSE_KEYS = ("status", "dose_per_kg", "interval", "dose_mg", "practical_mg", "band", "drug")


def _check_dose(m: Mismatch, where: str, dose: dict[str, Any], spec: dict[str, Any]) -> None:
    for key, expected in spec.items():
        if key in _DOSE_KEYS:
            m.check(f"{where}.{key}", dose.get(key), expected)
        elif key == "reason_contains":
            text = f"{dose.get('reason', '')} {dose.get('measure', '')}"
            m.require(expected in text, f"{where}.reason: {expected!r} not in {text!r}")
        elif key == "rounding_contains":
            text = dose.get("rounding", "")
            m.require(expected in text, f"{where}.rounding: {expected!r} not in {text!r}")
        elif key in ("instructions_absent", "hydration_absent"):
            field = key.removesuffix("_absent")
            joined = " | ".join(dose.get(field, ()))
            for part in expected:
                m.require(part not in joined, f"{where}.{field}: {part!r} in {joined!r}")
        elif key in ("infusion_contains", "hydration_contains"):
            field = key.removesuffix("_contains")
            joined = " | ".join(dose.get(field, ()))
            for part in expected:
                m.require(part in joined, f"{where}.{field}: {part!r} not in {joined!r}")
        else:
            m.problems.append(f"{where}: unknown dose key {key!r} in the vignette")


def _all_doses(plan: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    reg = plan["regimen"]
    out = [(f"induction {d['drug']}", d) for d in reg["induction"]]
    out += [(f"maintenance {d['drug']}", d) for d in plan["maintenance"]["options"]]
    if reg["step_down"] and reg["step_down"]["dose"]:
        out.append(("step_down", reg["step_down"]["dose"]))
    return out


def _strings(value: Any) -> list[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _check_plan(m: Mismatch, plan: dict[str, Any], expect: dict[str, Any]) -> None:
    reg = plan["regimen"]
    for key, expected in expect.items():
        if key == "regimen_rule":
            m.check("regimen.rule_id", reg["rule_id"], expected)
        elif key == "regimen_id":
            m.check("regimen.regimen_id", reg["regimen_id"], expected)
        elif key == "duration_days":
            m.check(
                "regimen.duration", [reg["duration_min_days"], reg["duration_max_days"]], expected
            )
        elif key == "induction":
            doses = {d["drug"]: d for d in reg["induction"]}
            m.check("induction drugs", sorted(doses), sorted(s["drug"] for s in expected))
            for spec in expected:
                if spec["drug"] in doses:
                    _check_dose(m, f"induction[{spec['drug']}]", doses[spec["drug"]], spec)
        elif key == "step_down":
            sd = reg["step_down"]
            if expected is None:
                m.check("regimen.step_down", sd, None)
                continue
            if sd is None:
                m.problems.append(f"regimen.step_down: expected {expected!r}, got None")
                continue
            for k2, v2 in expected.items():
                if k2 in ("eligible", "drug", "after_improvement_days"):
                    m.check(f"step_down.{k2}", sd[k2], v2)
                elif k2 == "why_not_contains":
                    m.require(
                        v2 in sd["why_not"], f"step_down.why_not: {v2!r} not in {sd['why_not']!r}"
                    )
                else:
                    dose = sd["dose"] or {}
                    m.check(f"step_down.dose.{k2}", dose.get(k2), v2)
        elif key in ("refused", "not_refused"):
            drugs = {r["drug"] for r in plan["refused"]}
            for drug in expected:
                want = key == "refused"
                m.require(
                    (drug in drugs) == want,
                    f"{drug} should {'' if want else 'not '}be refused; refused: {sorted(drugs)}",
                )
        elif key == "refused_rules":
            rules = {r["rule_id"] for r in plan["refused"]}
            for rid in expected:
                m.require(rid in rules, f"refusal {rid} missing; present: {sorted(rules)}")
        elif key == "refusal_mentions":
            texts = {r["rule_id"]: f"{r['reason']} {r['instead']}" for r in plan["refused"]}
            for rid, part in expected.items():
                m.require(
                    part in texts.get(rid, ""), f"refusal {rid}: {part!r} not in {texts.get(rid)!r}"
                )
        elif key in ("alerts", "no_alerts"):
            ids = {a["rule_id"] for a in plan["alerts"]}
            for aid in expected:
                want = key == "alerts"
                m.require(
                    (aid in ids) == want,
                    f"alert {aid} should be {'present' if want else 'absent'}; alerts: {sorted(ids)}",
                )
        elif key == "alert_mentions":
            texts = {a["rule_id"]: a["message"] for a in plan["alerts"]}
            for aid, part in expected.items():
                m.require(
                    part in texts.get(aid, ""), f"alert {aid}: {part!r} not in {texts.get(aid)!r}"
                )
        elif key in ("monitoring", "no_monitoring"):
            ids = {i["rule_id"] for i in plan["monitoring"]}
            for mid in expected:
                want = key == "monitoring"
                m.require(
                    (mid in ids) == want,
                    f"monitoring {mid} should be {'present' if want else 'absent'}; items: {sorted(ids)}",
                )
        elif key == "maintenance":
            options = {d["drug"]: d for d in plan["maintenance"]["options"]}
            for drug, spec in expected.items():
                if drug not in options:
                    m.problems.append(
                        f"maintenance option {drug} missing; options: {sorted(options)}"
                    )
                    continue
                spec = {"status": spec} if isinstance(spec, str) else spec
                _check_dose(m, f"maintenance[{drug}]", options[drug], spec)
        elif key == "maintenance_absent":
            options = {d["drug"] for d in plan["maintenance"]["options"]}
            for drug in expected:
                m.require(drug not in options, f"maintenance option {drug} should be absent")
        elif key == "maintenance_criteria":
            mt = plan["maintenance"]
            crit = {
                c["rule_id"]: c["text"]
                for kind in ("end_of_induction", "stop", "restart", "lifelong")
                for c in mt[kind]
            }
            for cid, part in expected.items():
                if cid not in crit:
                    m.problems.append(
                        f"maintenance criterion {cid} missing; present: {sorted(crit)}"
                    )
                elif part is not None:
                    m.require(part in crit[cid], f"criterion {cid}: {part!r} not in {crit[cid]!r}")
        elif key == "renal":
            renal = plan["renal"]
            fields = {
                "crcl_ml_min": "creatinine_clearance_ml_min",
                "crcl_per_kg": "clearance_per_kg_ml_min_kg",
                "egfr": "egfr_bedside_schwartz",
                "weight_kg": "weight_kg",
                "obese": "obese",
                "ideal_weight_kg": "ideal_weight_kg",
            }
            for k2, v2 in expected.items():
                if k2 == "insufficient_contains":
                    text = renal["insufficient"] or ""
                    m.require(v2 in text, f"renal.insufficient: {v2!r} not in {text!r}")
                elif k2 in fields:
                    m.check(f"renal.{fields[k2]}", renal[fields[k2]], v2)
                else:
                    m.problems.append(f"unknown renal key {k2!r} in the vignette")
        elif key == "not_confirmed_includes":
            ids = {n["id"] for n in plan["not_confirmed"]}
            for nid in expected:
                m.require(nid in ids, f"not_confirmed {nid} missing; present: {sorted(ids)}")
        elif key == "maintenance_criteria_absent":
            mt = plan["maintenance"]
            ids = {
                c["rule_id"]
                for kind in ("end_of_induction", "stop", "restart", "lifelong")
                for c in mt[kind]
            }
            for cid in expected:
                m.require(cid not in ids, f"maintenance criterion {cid} should be absent")
        elif key in ("duration_contains", "duration_excludes"):
            want = key == "duration_contains"
            for part in expected:
                m.require(
                    (part in reg["duration"]) == want,
                    f"duration {reg['duration']!r} should {'' if want else 'not '}hold {part!r}",
                )
        elif key in ("text_present", "text_absent"):
            text = " | ".join(_strings(plan))
            want = key == "text_present"
            for part in expected:
                m.require(
                    (part in text) == want,
                    f"plan text should {'' if want else 'not '}contain {part!r}",
                )
        elif key == "no_dose":
            dosed = [where for where, d in _all_doses(plan) if d["status"] == "dose"]
            m.require(not (expected and dosed), f"no dose expected, but doses for: {dosed}")
        else:
            m.problems.append(f"unknown expect key {key!r} in the vignette")


@pytest.mark.parametrize("path", VIGNETTES, ids=[p.stem for p in VIGNETTES])
def test_vignette(path: Path) -> None:
    v = _load(path)
    expect = v["expect"]
    m = Mismatch(path.name)
    if "error" in expect:
        want = expect["error"]
        assert set(expect) == {"error"}, f"{path.name}: an error vignette checks nothing else"
        try:
            result = cmvrx.plan(v["case"], as_of=_as_of(v))
        except InputError as exc:
            m.check("error type", type(exc).__name__, want["type"])
            if "field" in want:
                m.check("error field", exc.field, want["field"])
        else:
            doses = [where for where, d in _all_doses(result.to_dict()) if d["status"] == "dose"]
            m.problems.append(
                f"expected {want['type']} on {want.get('field')}, but a plan was produced (doses: {doses})"
            )
        m.report()
        return
    plan = cmvrx.plan(v["case"], as_of=_as_of(v)).to_dict()
    _check_plan(m, plan, expect)
    m.report()


def test_there_are_enough_vignettes() -> None:
    assert len(VIGNETTES) >= 45, f"only {len(VIGNETTES)} vignettes in {CASES_DIR}"


@pytest.mark.parametrize("path", VIGNETTES, ids=[p.stem for p in VIGNETTES])
def test_vignette_is_well_formed(path: Path) -> None:
    v = _load(path)
    missing = {"description", "covers", "as_of", "case", "expect"} - set(v)
    assert not missing, f"{path.name}: missing {sorted(missing)}"
    assert isinstance(v["description"], str) and v["description"].strip(), path.name
    assert "\n" not in v["description"].strip(), f"{path.name}: description must be one line"
    assert isinstance(v["covers"], list) and v["covers"], f"{path.name}: covers must be a list"
    assert isinstance(v["expect"], dict) and v["expect"], f"{path.name}: expect must be a mapping"
    assert str(v["as_of"]).endswith(("Z", "+00:00")), f"{path.name}: as_of must be ISO with Z"
    if "error" in v["expect"]:
        assert v["expect"]["error"]["type"] in _ERRORS, f"{path.name}: unknown error type"
    tagged = [
        c
        for c in v["covers"]
        if c.split(":")[0]
        in {"seed", "ref", "pitfall", "pediatric", "special", "renal", "data", "input"}
    ]
    unknown = [c for c in tagged if c not in CHECKLIST]
    assert not unknown, f"{path.name}: covers entries not in CHECKLIST (typo?): {unknown}"


def test_vignettes_cover_the_whole_guideline() -> None:
    covered = {c for p in VIGNETTES for c in _load(p)["covers"]}
    missing = [c for c in CHECKLIST if c not in covered]
    assert not missing, "guideline statements no vignette covers:\n" + "\n".join(missing)


def test_naive_as_of_is_refused_without_a_plan() -> None:
    """The other half of "naive timestamps": ``as_of`` itself without a time zone."""
    v = _load(CASES_DIR / "cns_01_encephalitis_hiv_adult.yaml")
    naive = _as_of(v).replace(tzinfo=None)
    with pytest.raises(InputError) as info:
        cmvrx.plan(v["case"], as_of=naive)
    assert type(info.value) is InputError
    assert info.value.field == "as_of"
