"""Synthetic FHIR Bulk Data exports with planted problems (``cmvrx synth``).

``write_cohort`` writes NDJSON per resource type, ``manifest.json`` and
``answer-key.csv``; see ``docs/audit.md`` ("Synthetic cohorts"). Synthetic data only:
made-up people for tests and benchmarks, never a clinical record.
"""
