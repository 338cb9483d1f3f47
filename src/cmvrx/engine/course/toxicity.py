"""Toxicity on therapy: cytopenias on ganciclovir/valganciclovir, electrolytes on
foscarnet, creatinine rise and proteinuria on cidofovir.

Thresholds are parameters (ganciclovir_min_*, foscarnet_low_*, cidofovir_scr_rise_*,
cidofovir_*_proteinuria_dipstick, cidofovir_max_urine_protein). Foscarnet's CrCl below
0.4 mL/min/kg is the label table's own "not recommended" row and is raised by the order
check (``orders``) as a stop.
"""

from __future__ import annotations

from cmvrx.engine.course.state import CourseState, dipstick_at_least, finding, param_cite
from cmvrx.engine.predicates import PREDICATES, low_electrolytes
from cmvrx.model.assessment import Finding


def toxicity(st: CourseState) -> list[Finding]:
    current = st.current
    if current is None or current.phase == "stopped":
        return []
    drugs = current.drugs
    out: list[Finding] = []
    s, k = st.situation, st.knowledge
    on_gcv = sorted(drugs & k.vocabulary("ganciclovir_class"))
    if on_gcv and s.cytopenias:
        out.append(
            finding(
                k,
                "CRS-TOX-GANCICLOVIR-CYTOPENIA",
                f"{' and '.join(on_gcv)}: {'; '.join(s.cytopenias)} — hold the drug, consider "
                "G-CSF to ameliorate marrow suppression, and switch to foscarnet (re-dosed for "
                "today's renal function).",
                cite=param_cite(
                    k,
                    "ganciclovir_min_anc",
                    "ganciclovir_min_platelets",
                    "ganciclovir_min_hemoglobin",
                ),
                drug=on_gcv[0],
            )
        )
    elif on_gcv and PREDICATES["anc_below_frequent_cbc_threshold"](s):
        anc = s.facts.anc
        assert anc is not None  # the predicate holds only for a fresh ANC
        out.append(
            finding(
                k,
                "CRS-TOX-GANCICLOVIR-LOW-ANC",
                f"{' and '.join(on_gcv)}: ANC {anc.value:g} cells/µL < "
                f"{k.number('frequent_cbc_anc'):g} — CBC daily (MON-CBC-GANCICLOVIR-LOW-ANC); "
                "hold below the do-not-start threshold.",
                based_on=("MON-CBC-GANCICLOVIR-LOW-ANC",),
                cite=param_cite(k, "frequent_cbc_anc"),
                drug=on_gcv[0],
            )
        )
    if "foscarnet" in drugs:
        low = low_electrolytes(s)
        if low:
            names = [
                "foscarnet_low_potassium",
                "foscarnet_low_magnesium",
                "foscarnet_low_ionized_calcium",
                "foscarnet_low_phosphate",
            ]
            out.append(
                finding(
                    k,
                    "CRS-TOX-FOSCARNET-ELECTROLYTES",
                    f"foscarnet: low {', '.join(low)} — replace, recheck before the next "
                    "infusion, ECG if symptomatic (seizures and QT prolongation reported).",
                    cite=param_cite(k, *names),
                    drug="foscarnet",
                )
            )
    if "cidofovir" in drugs:
        out.extend(_cidofovir(st))
    return out


def creatinine_rise(st: CourseState) -> float | None:
    """Serum creatinine now minus the pre-treatment value (mg/dL), None if either is unknown."""
    f = st.facts
    if f.creatinine is None or f.baseline_creatinine_mg_dl is None:
        return None
    return round(f.creatinine.value - f.baseline_creatinine_mg_dl, 6)


def cidofovir_rule(st: CourseState) -> str | None:
    """Which cidofovir toxicity rule applies now (stop > reduce > watch), if any."""
    k, f = st.knowledge, st.facts
    rise = creatinine_rise(st)
    stop_grade = str(k.param("cidofovir_stop_proteinuria_dipstick").value)
    watch_grade = str(k.param("cidofovir_watch_proteinuria_dipstick").value)
    if (rise is not None and rise >= k.number("cidofovir_scr_rise_stop")) or dipstick_at_least(
        f.urine_dipstick, stop_grade
    ):
        return "CRS-TOX-CIDOFOVIR-STOP"
    if rise is not None and rise >= k.number("cidofovir_scr_rise_reduce"):
        return "CRS-TOX-CIDOFOVIR-REDUCE"
    quantity_high = f.urine_protein_mg_dl is not None and f.urine_protein_mg_dl >= k.number(
        "cidofovir_max_urine_protein"
    )
    if dipstick_at_least(f.urine_dipstick, watch_grade) or quantity_high:
        return "CRS-TOX-CIDOFOVIR-PROTEINURIA-WATCH"
    return None


def _cidofovir(st: CourseState) -> list[Finding]:
    k, f = st.knowledge, st.facts
    rise = creatinine_rise(st)
    out: list[Finding] = []
    if f.baseline_creatinine_mg_dl is None:
        out.append(
            finding(
                k,
                "CRS-CIDOFOVIR-BASELINE-UNKNOWN",
                "cidofovir: record the pre-treatment serum creatinine (baseline) — the label's "
                "reduce/stop rules are rises above it.",
                drug="cidofovir",
            )
        )
    rule = cidofovir_rule(st)
    if rule is None:
        return out
    scr = f"creatinine {f.creatinine.value:.2f} mg/dL" if f.creatinine else "creatinine unknown"
    base = f.baseline_creatinine_mg_dl
    rise_text = (
        f"{scr}, {rise:+.2f} mg/dL from baseline {base:.2f}" if rise is not None and base else scr
    )
    protein = f.urine_dipstick or (
        f"{f.urine_protein_mg_dl:g} mg/dL" if f.urine_protein_mg_dl is not None else "not recorded"
    )
    names = {
        "CRS-TOX-CIDOFOVIR-STOP": (
            "cidofovir_scr_rise_stop",
            "cidofovir_stop_proteinuria_dipstick",
        ),
        "CRS-TOX-CIDOFOVIR-REDUCE": ("cidofovir_scr_rise_reduce", "cidofovir_reduced_dose"),
        "CRS-TOX-CIDOFOVIR-PROTEINURIA-WATCH": ("cidofovir_watch_proteinuria_dipstick",),
    }[rule]
    what = {
        "CRS-TOX-CIDOFOVIR-STOP": "discontinue cidofovir",
        "CRS-TOX-CIDOFOVIR-REDUCE": (
            f"reduce cidofovir to {k.number('cidofovir_reduced_dose'):g} mg/kg"
            + (
                f" = {k.number('cidofovir_reduced_dose') * st.situation.renal.weight_kg:.0f} mg"
                if st.situation.renal.weight_kg
                else ""
            )
        ),
        "CRS-TOX-CIDOFOVIR-PROTEINURIA-WATCH": (
            "monitor closely, consider dose reduction or interruption, IV hydration and a repeat test"
        ),
    }[rule]
    out.append(
        finding(
            k,
            rule,
            f"cidofovir: {rise_text}; urine protein {protein} → {what}.",
            cite=param_cite(k, *names),
            drug="cidofovir",
        )
    )
    return out
