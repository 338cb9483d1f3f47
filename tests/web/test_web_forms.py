"""The page's form helpers: numbers shown exactly as the API gave them, form bodies that
never crash, API error fields placed at an input."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from cmvrx.web.forms import ALL_FIELDS, FormData, FormInputError, case_document, form_field_for
from cmvrx.web.routes import number_text


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_a_number_is_shown_with_its_digits(value: float) -> None:
    shown = number_text(value)
    assert math.isclose(float(shown), round(value, 2), abs_tol=0.005 + 1e-9)
    assert not shown.endswith(".")


def test_numbers_that_once_misread_badly() -> None:
    assert [number_text(v) for v in (350.0, 1.05, 10.05, 162.5, 0.0, 4200.0)] == [
        "350",
        "1.05",
        "10.05",
        "162.5",
        "0",
        "4200",
    ]
    assert number_text(None) == ""


names = st.sampled_from(sorted(ALL_FIELDS))


@given(st.lists(st.tuples(names, st.text(max_size=30)), max_size=40))
def test_any_form_body_gives_a_document_or_field_errors(pairs: list[tuple[str, str]]) -> None:
    try:
        doc = case_document(FormData(pairs))
    except FormInputError as exc:
        assert set(exc.errors) <= set(ALL_FIELDS)
        return
    assert isinstance(doc, dict)


def test_api_error_fields_land_on_an_input() -> None:
    fields = list(ALL_FIELDS)
    assert form_field_for("patient.weight", fields) == "patient.weight.value"
    assert form_field_for("patient.weight.unit", fields) == "patient.weight.unit"
    assert form_field_for("blood_counts.anc.measured_at", fields) == "blood_counts.measured_at"
    assert form_field_for("disease.sites.0", fields) == "disease.sites"
    assert form_field_for("renal", fields) == "renal.serum_creatinine.value"
    assert form_field_for(None, fields) is None
    assert form_field_for("resistance_mutations.0.gene", fields) is None


@given(st.text(max_size=40))
def test_any_error_field_maps_to_an_input_or_none(field: str) -> None:
    found = form_field_for(field, ALL_FIELDS)
    assert found is None or found in ALL_FIELDS
