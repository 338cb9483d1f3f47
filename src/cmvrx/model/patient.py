"""The patient case: what a clinician knows about one patient with severe CMV disease.

This is the documented input format (YAML or JSON; ``cmvrx schema`` prints its JSON
Schema). It checks structure and units only; plausibility against the knowledge's
ranges, staleness and contradictions are judged by ``engine.intake`` because they
need the knowledge and the ``as_of`` time.

"Not recorded" is ``None``; "recorded as absent" is an explicit value (``false``,
``none``, an empty list). Every quantity carries its unit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timezone
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, field_validator

from cmvrx.identifiers import MAX_ID_LENGTH, check_text_id

#: A number as a number: an int or a float, never a bool (``true`` is not 1 kg), a string
#: (``'42'``) or NaN/infinity. Every quantity and count in cases and course events uses it.
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]


def _standard_zone(t: datetime) -> datetime:
    """The same instant and offset, its zone as a ``datetime.timezone``: pydantic's own
    zone class made every age computed from it (``as_of - measured_at``) four times as
    costly. A naive time stays naive (the engine refuses it, naming the field)."""
    offset = t.utcoffset()
    if offset is None or type(t.tzinfo) is timezone:
        return t
    return t.replace(tzinfo=UTC if not offset else timezone(offset))


#: A date-time as given, with a standard zone object (see ``_standard_zone``).
Timestamp = Annotated[datetime, AfterValidator(_standard_zone)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Quantity(_Strict):
    """A number with its unit (UCUM code or its common spelling)."""

    value: Number
    unit: str = Field(min_length=1)


class Measurement(Quantity):
    """A measured quantity with the time it was measured (taken, not resulted)."""

    measured_at: Timestamp


class Sex(StrEnum):
    male = "male"
    female = "female"


class Dialysis(StrEnum):
    none = "none"
    intermittent_hemodialysis = "intermittent_hemodialysis"
    crrt = "crrt"
    peritoneal = "peritoneal"


class DiseaseSite(StrEnum):
    encephalitis = "encephalitis"
    ventriculitis = "ventriculitis"
    myelitis = "myelitis"
    polyradiculopathy = "polyradiculopathy"
    retinitis = "retinitis"
    colitis = "colitis"
    esophagitis = "esophagitis"
    gastrointestinal_other = "gastrointestinal_other"
    pneumonitis = "pneumonitis"
    hepatitis = "hepatitis"
    nephritis = "nephritis"
    cmv_syndrome = "cmv_syndrome"
    disseminated = "disseminated"


class TransplantKind(StrEnum):
    hsct = "hsct"
    sot = "sot"


class UrineDipstick(StrEnum):
    negative = "negative"
    trace = "trace"
    one_plus = "1+"
    two_plus = "2+"
    three_plus = "3+"
    four_plus = "4+"


class Gene(StrEnum):
    UL97 = "UL97"
    UL54 = "UL54"
    UL56 = "UL56"
    UL27 = "UL27"


class Antiviral(StrEnum):
    ganciclovir = "ganciclovir"
    valganciclovir = "valganciclovir"
    foscarnet = "foscarnet"
    cidofovir = "cidofovir"
    letermovir = "letermovir"
    maribavir = "maribavir"


class FoscarnetColumn(StrEnum):
    """The foscarnet label columns: induction (60 mg/kg q8h, 90 mg/kg q12h) and
    maintenance (90 or 120 mg/kg/day); ``Case.foscarnet_*_column`` take these values."""

    q8h_60 = "60_q8h"
    q12h_90 = "90_q12h"
    per_day_90 = "90_per_day"
    per_day_120 = "120_per_day"


class Patient(_Strict):
    age: Quantity = Field(description="Age, unit 'a' (years) or 'mo' (months).")
    sex: Sex
    weight: Quantity = Field(description="Actual body weight: kg, g or [lb_av].")
    weight_measured_at: Timestamp | None = None
    height: Quantity | None = Field(None, description="cm, m or [in_i]; needed for children.")
    pregnant: bool | None = None
    low_birth_weight_for_gestational_age: bool | None = Field(
        None, description="Infants < 1 year only: selects the label's Schwartz k."
    )


class UrineProtein(_Strict):
    """Urine protein: a quantitative value (mg/dL), a dipstick grade, or both."""

    quantity: Quantity | None = None
    dipstick: UrineDipstick | None = None
    measured_at: Timestamp


class Renal(_Strict):
    serum_creatinine: Measurement | None = None
    baseline_serum_creatinine: Quantity | None = Field(
        None, description="Pre-treatment SCr, for cidofovir's rise rules."
    )
    measured_creatinine_clearance: Measurement | None = Field(
        None, description="Timed-urine creatinine clearance, mL/min."
    )
    dialysis: Dialysis
    urine_protein: UrineProtein | None = None


class Disease(_Strict):
    sites: Annotated[list[DiseaseSite], Field(min_length=1)]
    retinitis_sight_threatening: bool | None = Field(
        None, description="Retinitis lesion within 1,500 µm of the fovea or threatening vision."
    )
    refractory: bool | None = Field(
        None, description="Clinician-judged refractory to adequately dosed therapy ≥ 2 weeks."
    )
    congenital: bool | None = Field(
        None,
        description=(
            "Congenital CMV (infection acquired before birth) rather than acquired disease. "
            "Congenital CMV is treated on its own regimen: not recorded for an infant, "
            "cmvrx asks for it; recorded true, it goes to specialist review unless the "
            "knowledge gives the congenital regimen."
        ),
    )


class Hiv(_Strict):
    status: Literal["positive", "negative", "unknown"]
    cd4: Measurement | None = None
    on_art: bool | None = None
    hiv_rna: Measurement | None = None
    hiv_rna_suppressed: bool | None = None


class Transplant(_Strict):
    kind: TransplantKind
    detail: str | None = Field(None, description="e.g. 'allogeneic', 'kidney', 'lung'.")
    transplant_date: date | None = None


class BloodCounts(_Strict):
    anc: Measurement | None = Field(None, description="Absolute neutrophil count.")
    platelets: Measurement | None = None
    hemoglobin: Measurement | None = None


class Electrolytes(_Strict):
    potassium: Measurement | None = None
    magnesium: Measurement | None = None
    calcium: Measurement | None = None
    ionized_calcium: Measurement | None = None
    phosphate: Measurement | None = None


class Mutation(_Strict):
    gene: Gene
    mutation: str = Field(min_length=2, description="Amino-acid change, e.g. 'A594V'.")
    resistant_to: list[Antiviral] = Field(
        default_factory=list,
        description="Drugs the genotype report says it confers resistance to (UL54 needs this).",
    )


class Intolerance(_Strict):
    ganciclovir: bool = False
    foscarnet: bool = False
    cidofovir: bool = False
    probenecid_or_sulfa_allergy: bool = False


class OralRoute(_Strict):
    can_take_oral: bool
    can_absorb_oral: bool


class Case(_Strict):
    """One patient with severe CMV disease, as cmvrx reads it."""

    case_id: str = Field(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description="Printable; no control or bidirectional-text characters.",
    )
    patient: Patient
    renal: Renal
    disease: Disease
    hiv: Hiv | None = None
    transplant: Transplant | None = None
    medications: list[str] = Field(
        default_factory=list,
        description="Current medications by generic name (cyclosporine, tacrolimus, letermovir …).",
    )
    blood_counts: BloodCounts = Field(default_factory=BloodCounts)
    electrolytes: Electrolytes = Field(default_factory=Electrolytes)
    resistance_mutations: list[Mutation] = Field(default_factory=list)
    intolerance: Intolerance = Field(default_factory=Intolerance)
    oral: OralRoute | None = None
    weight_basis: Literal["actual", "ideal", "adjusted"] = Field(
        "actual", description="Body weight for mg/kg and Cockcroft–Gault (label: actual)."
    )
    foscarnet_induction_column: Literal["60_q8h", "90_q12h"] = "60_q8h"
    foscarnet_maintenance_column: Literal["90_per_day", "120_per_day"] = "90_per_day"

    @field_validator("case_id")
    @classmethod
    def _printable_id(cls, value: str) -> str:
        try:
            return check_text_id(value, field="case_id")
        except ValueError as exc:  # pydantic reports it with the field's location
            raise ValueError(str(exc).removeprefix("case_id: ")) from None
