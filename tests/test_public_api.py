"""The public API: a pinned ``__all__``, and ``import cmvrx`` stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import cmvrx

PUBLIC = [
    "DISCLAIMER",
    "Case",
    "CmvrxError",
    "ContradictoryInputError",
    "Dosage",
    "DrugDose",
    "ImplausibleValueError",
    "InputError",
    "InsufficientDataError",
    "Interval",
    "KnowledgeError",
    "NotRecommendedError",
    "OrderCheck",
    "Plan",
    "StorageError",
    "UnitError",
    "__version__",
    "assess_course",
    "chart_course",
    "check_order",
    "dose",
    "knowledge_summary",
    "load_case",
    "load_course",
    "load_knowledge",
    "parse_order",
    "plan",
    "plan_schema",
    "read_orders",
]

HEAVY = ("typer", "click", "rich", "sqlalchemy", "alembic", "matplotlib", "polars", "pyspark")


def test_all_is_pinned() -> None:
    """Changing the public API is a decision: update this list on purpose."""
    assert cmvrx.__all__ == PUBLIC
    for name in PUBLIC:
        assert hasattr(cmvrx, name), name


def test_import_cmvrx_does_not_import_heavy_packages() -> None:
    code = (
        "import json, sys\n"
        "import cmvrx\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == []


def test_the_cli_is_where_typer_and_rich_come_in() -> None:
    code = "import sys, cmvrx.cli.main\nprint('typer' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "True"
