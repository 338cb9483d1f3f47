"""Population audit (issue #10): every CMV antiviral order of a FHIR Bulk Data export
checked by the per-patient engine (``api.review_record``). This package only selects,
groups and reshapes — no clinical logic: ``select`` (which lines and patients),
``patient`` (one patient's lines → finding rows), ``embedded`` (the streaming engine),
``outputs`` (CSV, Parquet, summary, HTML). See docs/audit.md.
"""
