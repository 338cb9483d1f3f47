"""No dose numbers in the knowledge's prose (issue 7 item 2, H47): an alert or a
maintenance criterion that needs a dose or a threshold takes it from a ``{placeholder}``
filled from the dose tables or parameters.toml, never from a number typed into the text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

import cmvrx

K = cmvrx.load_knowledge()
DOSE_IN_TEXT = re.compile(r"\d+(?:[.,]\d+)*\s*(?:mg|g|mg/kg|mcg)\b")
PLACEHOLDER = re.compile(r"\{[a-z_0-9]+\}")

TEXTS = [(a.id, a.message) for a in K.alerts] + [
    (c.id, c.text)
    for kind in ("end_of_induction", "stop", "restart", "lifelong")
    for c in K.criteria(kind)
]


@pytest.mark.parametrize(("rule_id", "text"), TEXTS, ids=[rid for rid, _ in TEXTS])
def test_no_dose_number_is_written_into_alert_or_criterion_prose(rule_id: str, text: str) -> None:
    found = DOSE_IN_TEXT.findall(PLACEHOLDER.sub("", text))
    assert not found, f"{rule_id}: dose numbers in prose {found}; use a placeholder"


def test_the_maribavir_alert_takes_the_inducer_dose_from_the_table() -> None:
    base = {
        "case_id": "mbv",
        "patient": {
            "age": {"value": 40, "unit": "a"},
            "sex": "male",
            "weight": {"value": 70, "unit": "kg"},
        },
        "renal": {
            "dialysis": "none",
            "serum_creatinine": {
                "value": 1.0,
                "unit": "mg/dL",
                "measured_at": "2026-11-24T06:00:00Z",
            },
        },
        "disease": {"sites": ["pneumonitis"], "refractory": True},
        "transplant": {"kind": "sot"},
    }
    as_of = datetime(2026, 11, 24, 8, tzinfo=UTC)
    for meds, dose in (
        ([], "400 mg"),
        (["carbamazepine"], "800 mg"),
        (["phenobarbital"], "1200 mg"),
    ):
        plan = cmvrx.plan({**base, "medications": meds}, as_of=as_of)
        [alert] = [a for a in plan.alerts if a.rule_id == "ALR-MARIBAVIR-OPTION"]
        assert f"maribavir {dose} twice daily" in alert.message
