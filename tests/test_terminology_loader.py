"""terminology.toml (FHIR code bindings) is loaded and validated like the rest of the
knowledge: unknown keys, duplicates, dangling citations, wrong LOINC check digits,
units units.py cannot convert and unknown ingredients are refused."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from cmvrx.errors import KnowledgeError
from cmvrx.fhir import codes
from cmvrx.knowledge import loader
from cmvrx.knowledge.terminology import loinc_check_digit_ok

DATA = Path(str(resources.files("cmvrx.knowledge") / "data"))
FIRST_OBS = '[[observation]]\ncode = "2160-0"\n'

BROKEN = [
    ('code = "2160-0"\n', 'code = "2160-0"\nsurprise = 1\n', "Extra inputs are not permitted"),
    ('code = "14682-9"\n', 'code = "2160-0"\n', "duplicate observation '2160-0'"),
    ('code = "2160-0"\n', 'code = "2160-1"\n', "bad LOINC check digit"),
    ('units = ["mg/dL"]\n', 'units = ["mmol/L"]\n', "not convertible as creatinine"),
    (
        'cite = ["T-CIBMTR-IG", "T-CUMULUS-KTX"]\n',
        'cite = ["NOWHERE"]\n',
        "citation 'NOWHERE' is not known",
    ),
    (
        'ingredient = "ganciclovir"\nsystem = "rxnorm"',
        'ingredient = "ganciclovirr"\nsystem = "rxnorm"',
        "unknown ingredient",
    ),
    ('concept = "site.pneumonitis"', 'concept = "site.lung"', "unknown concept"),
    ('confidence = "high"', 'confidence = "certain"', "Input should be"),
    ('quantity = "creatinine"', 'quantity = "volume"', "unknown quantity kind"),
]


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


@pytest.mark.parametrize(("old", "new", "match"), BROKEN)
def test_broken_terminology_is_refused(data_copy: Path, old: str, new: str, match: str) -> None:
    path = data_copy / "terminology.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(KnowledgeError, match=match):
        loader.load(data_dir=data_copy)


def test_missing_terminology_file_is_refused(data_copy: Path) -> None:
    (data_copy / "terminology.toml").unlink()
    with pytest.raises(KnowledgeError, match="cannot read"):
        loader.load(data_dir=data_copy)


def test_terminology_is_part_of_the_content_hash(data_copy: Path) -> None:
    path = data_copy / "terminology.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    assert loader.load(data_dir=data_copy).content_hash != loader.load().content_hash


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("2160-0", True),
        ("14682-9", True),
        ("48643-1", True),
        ("48643-3", False),
        ("30247-2", False),
        ("101815-9", True),
        ("x-1", False),
        ("2160", False),
    ],
)
def test_loinc_check_digit(code: str, ok: bool) -> None:
    assert loinc_check_digit_ok(code) is ok


def test_unconfirmed_codes_stay_marked() -> None:
    t = codes.terminology()
    grade = {(m.system, m.code): m.confidence for m in t.medication}
    assert grade[("rxnorm", "4678")] == "UNCONFIRMED"  # ganciclovir IN: not verified
    assert grade[("atc", "J05AX10")] == "UNCONFIRMED"  # maribavir ATC
    assert grade[("rxnorm", "313566")] == "high"
    assert {r.id: r.confidence for r in t.route}["oral"] == "UNCONFIRMED"


def test_code_lists_for_prefetch() -> None:
    obs = codes.observation_codes()
    assert ("http://loinc.org", "2160-0") in obs and ("http://loinc.org", "38483-4") in obs
    assert codes.observation_codes(analytes=("creatinine",)) == [
        ("http://loinc.org", c) for c in ("2160-0", "14682-9", "38483-4")
    ]
    assert ("http://hl7.org/fhir/sid/icd-10-cm", "Z99.2") in codes.condition_codes()
    assert ("http://snomed.info/sct", "265764009") in codes.condition_codes(resource="Procedure")
    meds = codes.medication_codes(roles=("immunosuppressant",))
    assert ("http://www.nlm.nih.gov/research/umls/rxnorm", "3008") in meds
    assert all("J05" not in c for _, c in meds)
    assert codes.search_token([("a", "1"), ("b", "2")]) == "a|1,b|2"


def test_docs_list_every_code_and_problem_kind() -> None:
    from cmvrx.fhir.problems import PROBLEM_KINDS

    text = (Path(__file__).parents[1] / "docs" / "fhir.md").read_text(encoding="utf-8")
    t = codes.terminology()
    for code in (
        [o.code for o in t.observation]
        + [c.code for c in t.condition]
        + [m.code for m in t.medication]
    ):
        assert f" {code} " in text or f" {code}|" in text or f"{code} (" in text, code
    for kind in PROBLEM_KINDS:
        assert f"`{kind}`" in text, kind
