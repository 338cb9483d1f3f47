"""The one flat schema of a finding row, shared by every engine and output.

Every value is a string or None, so Polars, DuckDB, Spark, CSV and Parquet agree row for
row. ``current_dose``/``corrected_dose`` and ``data_used`` are JSON text; ``citations``
is ";"-joined citation ids; ``as_of`` is an ISO-8601 UTC instant.
"""

from __future__ import annotations

FINDING_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "order_id",
    "drug",
    "kind",
    "severity",
    "summary",
    "current_dose",
    "corrected_dose",
    "rule_id",
    "citations",
    "data_used",
    "as_of",
    "knowledge_version",
)

Row = dict[str, str | None]
